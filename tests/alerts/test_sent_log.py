"""The sent log (``sent.jsonl``) does not grow forever: once it passes its size, entries older
than the de-dup horizon are dropped, the recent ones still stop a second send, and two
processes appending while it is compacted lose no line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from llmledger.alerts.delivery import KEEP_SENT, DeliveryLog
from llmledger.alerts.model import Alert

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def entry(alert_id: str, sent_at: datetime, channel: str = "webhook") -> str:
    return json.dumps({"channel": channel, "alertId": alert_id, "sentAt": stamp(sent_at)})


def alert(alert_id: str) -> Alert:
    return Alert(
        id=alert_id,
        kind="anomaly.spend_spike",
        severity="warning",
        title="t",
        message="m",
        at=NOW,
        details={},
    )


def ids_in(path: Path) -> list[str]:
    return [json.loads(line)["alertId"] for line in path.read_text().splitlines()]


def test_entries_past_the_horizon_go_once_the_file_is_large(tmp_path: Path) -> None:
    sent = tmp_path / "sent.jsonl"
    old = [entry(f"old:{n}", NOW - KEEP_SENT - timedelta(days=1, minutes=n)) for n in range(40)]
    recent = [entry(f"recent:{n}", NOW - KEEP_SENT + timedelta(hours=1 + n)) for n in range(5)]
    sent.write_text("\n".join([*old, '{"channel": "webhook", "alertId": "cut', *recent]) + "\n")
    size = sent.stat().st_size

    small = DeliveryLog(tmp_path, compact_at=size + 10_000)  # below its size: left alone
    assert sent.stat().st_size == size
    assert not small.claim("webhook", "old:3")  # still remembered

    log = DeliveryLog(tmp_path, compact_at=1024)  # past its size: compacted on opening
    assert ids_in(sent) == [f"recent:{n}" for n in range(5)]
    assert not log.claim("webhook", "recent:4")
    assert log.claim("webhook", "old:3")  # past the horizon: no check can find it again
    log.sent("webhook", alert("new:1"))
    assert ids_in(sent)[-1] == "new:1"
    assert DeliveryLog(tmp_path).claim("webhook", "new:1") is False


def test_a_file_of_recent_entries_is_kept_whole_and_not_rewritten_each_time(
    tmp_path: Path,
) -> None:
    log = DeliveryLog(tmp_path, compact_at=2048)
    for n in range(60):
        log.sent("webhook", alert(f"a:{n}"))
    sent = tmp_path / "sent.jsonl"
    assert ids_in(sent) == [f"a:{n}" for n in range(60)]
    inode = sent.stat().st_ino
    log.sent("webhook", alert("a:60"))  # below twice the size the last compaction kept
    assert sent.stat().st_ino == inode  # appended, not rewritten
    assert log.compact(NOW + KEEP_SENT + timedelta(days=1)) == 61  # a month later: all old
    assert sent.read_text() == ""


WRITER = """
import sys
from datetime import datetime, timezone
from pathlib import Path
from llmledger.alerts.delivery import DeliveryLog
from llmledger.alerts.model import Alert

directory, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
log = DeliveryLog(directory, compact_at=1024)
now = datetime.now(timezone.utc)
for n in range(count):
    log.sent("webhook", Alert(f"{name}:{n}", "anomaly.spend_spike", "warning", "t", "m", now, {}))
"""


def test_two_processes_appending_while_it_compacts_lose_nothing(tmp_path: Path) -> None:
    sent = tmp_path / "sent.jsonl"
    old = [entry(f"old:{n}", NOW - KEEP_SENT - timedelta(days=2)) for n in range(100)]
    sent.write_text("\n".join(old) + "\n")
    count = 600
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name, str(count)])
        for name in ("a", "b")
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    found = ids_in(sent)  # every line is whole JSON
    assert sorted(found) == sorted(f"{name}:{n}" for name in ("a", "b") for n in range(count))
    assert not list(tmp_path.glob(".sent.jsonl.*"))  # no temporary file left behind

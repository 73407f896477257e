"""Two live processes sharing a state dir: each opened ``sent.jsonl`` before the other sent
anything, yet a new alert reaches the loopback receiver once; a claim left by a process that
died before sending is taken over once it lapses; a log compacted (replaced) by another
process is read again whole."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from llmledger.alerts.delivery import DeliveryLog
from llmledger.alerts.model import Alert, stamp
from tests.alerts.receiver import Receiver

SECRET = "race-secret"
ALERTS = 20  # as the senders are told

SENDER = """
import asyncio, sys, time
from datetime import datetime, timezone
from pathlib import Path
from llmledger.alerts.channels import WebhookChannel
from llmledger.alerts.delivery import AlertDispatcher, DeliveryLog, RetryPolicy
from llmledger.alerts.model import Alert

state, url, secret, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
count = int(sys.argv[5])
dispatcher = AlertDispatcher(
    [WebhookChannel(url, secret)],
    policy=RetryPolicy(attempts=3, backoff=0.05, max_backoff=0.2, timeout=5),
    record=DeliveryLog(state),  # reads sent.jsonl now, before either process sends
)
(state / f"ready-{name}").touch()
while not (state / "go").exists():
    time.sleep(0.005)
at = datetime(2026, 12, 7, 10, 15, tzinfo=timezone.utc)
alerts = [
    Alert(f"anomaly:race:{n}", "anomaly.spend_spike", "warning", "t", "m", at, {})
    for n in range(count)
]
results = asyncio.run(dispatcher.deliver(alerts))
print(sum(result.delivered for result in results), sum(result.duplicate for result in results))
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(secret=SECRET).start()
    yield started
    started.stop()


def test_two_live_processes_deliver_each_new_alert_once(receiver: Receiver, tmp_path: Path) -> None:
    state = tmp_path / "alerts"
    state.mkdir()
    senders = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, str(state), f"{receiver.url}/hook", SECRET, name, "20"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    deadline = time.monotonic() + 60
    while not all((state / f"ready-{name}").exists() for name in ("a", "b")):
        assert time.monotonic() < deadline, "the senders did not start"
        time.sleep(0.01)
    (state / "go").touch()
    outputs = [sender.communicate(timeout=120)[0] for sender in senders]
    assert [sender.returncode for sender in senders] == [0, 0]

    arrived = Counter(received.body["id"] for received in receiver.accepted)
    assert arrived == Counter({f"anomaly:race:{n}": 1 for n in range(ALERTS)})
    assert all(received.signature_ok for received in receiver.received)
    # Between them the two processes sent each alert once and skipped it once.
    delivered, skipped = zip(*(map(int, output.split()) for output in outputs))
    assert (sum(delivered), sum(skipped)) == (ALERTS, ALERTS)
    lines = [json.loads(line) for line in (state / "sent.jsonl").read_text().splitlines()]
    assert sorted(line["alertId"] for line in lines if "sentAt" in line) == sorted(arrived)


def alert(alert_id: str) -> Alert:
    at = datetime.now(timezone.utc)
    return Alert(alert_id, "anomaly.spend_spike", "warning", "t", "m", at, {})


def claim_line(alert_id: str, until: datetime) -> str:
    record = {"channel": "webhook", "alertId": alert_id, "claimedUntil": stamp(until)}
    return json.dumps(record) + "\n"


def test_a_claim_of_a_process_that_died_before_sending_lapses(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    (tmp_path / "sent.jsonl").write_text(
        claim_line("lapsed", now - timedelta(seconds=5))
        + claim_line("live", now + timedelta(minutes=5))
    )
    log = DeliveryLog(tmp_path)
    assert log.claim("webhook", "lapsed")  # its sender died: someone must send it
    assert not log.claim("webhook", "live")  # another process is sending it now
    assert log.claim("slack", "live")  # a claim is per channel
    assert not DeliveryLog(tmp_path).claim("webhook", "lapsed")  # claimed anew above


def test_a_log_replaced_by_another_process_is_read_again_whole(tmp_path: Path) -> None:
    early = DeliveryLog(tmp_path)
    assert early.claim("webhook", "mine")  # it has read the file to its end
    sent = tmp_path / "sent.jsonl"
    # Another process compacts: a new file (new inode, here shorter) takes the old one's place.
    replacement = tmp_path / ".sent.jsonl.other.tmp"
    record = {
        "channel": "webhook",
        "alertId": "theirs",
        "sentAt": stamp(datetime.now(timezone.utc)),
    }
    replacement.write_text(json.dumps(record) + "\n")
    inode = sent.stat().st_ino
    replacement.replace(sent)
    assert sent.stat().st_ino != inode
    assert not early.claim("webhook", "theirs")
    assert not early.claim("webhook", "mine")
    assert early.claim("webhook", "new")

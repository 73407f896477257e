"""``llmledger quota``: the official windows the agents reported last (Codex's from its logs,
read by the scan the command runs first; Claude Code's as the statusline filed them), their
reset times and a forecast; an estimate for an agent without official figures, said to be one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.rate_windows import RateWindow
from tests.sources.conftest import write_jsonl

from .codex_lines import SESSION, absolute_limits, meta, token_count, turn
from .codex_lines import tokens as codex_tokens

NOW = datetime.now(timezone.utc)


def _iso(minutes_ago: float) -> str:
    moment = NOW - timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(Path.cwd() / "ledger.db"), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def home(isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    resets = int(NOW.timestamp()) + 2 * 3600
    rollout = (
        isolated_home / ".codex" / "sessions" / "2026" / "12" / "07" / f"rollout-x-{SESSION}.jsonl"
    )
    write_jsonl(
        rollout,
        [
            meta(_iso(120)),
            turn(_iso(120)),
            token_count(_iso(120), codex_tokens(1000, 1000), absolute_limits(10.0, resets)),
            token_count(_iso(60), codex_tokens(3000, 2000), absolute_limits(30.0, resets)),
        ],
    )
    with Ledger(tmp_path / "ledger.db") as ledger:
        week = int(NOW.timestamp() + 3 * 86_400) * 1_000_000
        observed = int(NOW.timestamp() * 1_000_000)
        ledger.record_rate_windows(
            [RateWindow("claude-code", "seven_day", observed, 41.2, 10080, week, session_id="s")]
        )
        # Gemini CLI reports no limits: its current block is estimated against its largest.
        for hours, tokens in ((30, 100_000), (29.5, 100_000), (1, 30_000), (0.5, 20_000)):
            ledger.record(model="gemini-2.5-pro", ts=NOW - timedelta(hours=hours),
                          source="gemini-cli", input_tokens=tokens, output_tokens=0)  # fmt: skip
    return isolated_home


def test_quota_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "quota", "--json")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    [claude, codex] = data["windows"]
    assert (claude["source"], claude["label"], claude["usedPercent"]) == (
        "claude-code",
        "weekly",
        41.2,
    )
    assert claude["official"] is True and claude["forecast"]["estimate"] is True
    assert (codex["source"], codex["label"], codex["usedPercent"]) == ("codex", "5-hour", 30.0)
    assert codex["plan"] == "plus" and codex["windowMinutes"] == 300
    # 10 % → 30 % in an hour: 20 points an hour, 100 % in 3.5 hours, after the reset in 2.
    assert codex["forecast"]["percentPerHour"] == pytest.approx(20.0)
    assert codex["forecast"]["reaches100At"] is None
    assert codex["forecast"]["percentAtReset"] == pytest.approx(30 + 20 * 3, abs=0.2)
    [gemini] = data["estimates"]
    assert gemini["source"] == "gemini-cli" and gemini["estimate"] is True
    assert gemini["tokens"] == 50_000 and gemini["largestBlockTokens"] == 200_000
    assert gemini["percentOfLargest"] == 25.0


def test_quota_table(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "quota", "--tz", "UTC")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Official limit windows, as the agents reported them last"
    assert lines[1].split() == ["AGENT", "WINDOW", "USED", "RESETS", "FORECAST*"]
    assert lines[2].split()[:4] == ["Claude", "Code", "weekly", "41%"]
    assert lines[3].split()[:4] == ["Codex", "CLI", "5-hour", "30%"]
    assert "(in 2h)" in lines[3] and lines[3].endswith("~90% at reset")
    assert lines[4] == "* an estimate: the pace of the current period carried forward"
    assert "Estimates from the ledger (no official figure)" in out
    assert max(len(line) for line in lines) <= 80


def test_quota_without_readings_says_where_they_come_from(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "quota")
    assert code == 0
    assert out.startswith("No official limit readings yet. Codex writes them")
    assert json.loads(_run(capsys, "quota", "--json")[1]) == {"windows": [], "estimates": []}


def test_quota_bad_zone(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "quota", "--tz", "Mars/Olympus")
    assert (code, out) == (1, "")
    assert "unknown time zone 'Mars/Olympus'" in err


def test_blocks_show_the_official_windows_of_their_agents(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "blocks", "--codex", "--tz", "UTC")
    assert code == 0
    last = out.splitlines()[-1]
    # The reset is 2 h ahead of the real clock: today, or tomorrow after 22:00 UTC.
    assert last.startswith("Official limits: Codex CLI 5-hour 30% (resets "), last
    assert last.endswith("(in 2h)) (llmledger quota)")
    code, out, _ = _run(capsys, "blocks", "--no-scan", "--tz", "UTC")  # Claude Code's
    assert out.splitlines()[-1].startswith("Official limits: Claude Code weekly 41% (resets ")
    code, out, _ = _run(capsys, "blocks", "--codex", "--json")
    assert "Official limits" not in out and json.loads(out)["blocks"]

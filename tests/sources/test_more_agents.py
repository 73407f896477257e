"""Droid, Kimi CLI and Copilot CLI together: the CLI's shortcut flags, and values no real log
holds in any source."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger

from .conftest import claude_line, run_scan, write_jsonl
from .new_agent_logs import (
    T0,
    copilot_shutdown,
    droid_settings,
    kimi_session,
    kimi_update,
    write_settings,
)


def test_shortcut_flags_filter_the_new_agents(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    share = isolated_home / ".kimi"
    write_jsonl(kimi_session(share, "/k", "s") / "wire.jsonl", [kimi_update(T0, "a", [5, 1, 0, 0])])
    write_jsonl(
        isolated_home / ".copilot" / "session-state" / "c" / "events.jsonl",
        [copilot_shutdown("s", "2026-02-15T10:00:00Z", {"gpt-5.1": [9, 2, 0, 0, 0, 1]})],
    )
    when = datetime(2026, 2, 15, 12, 0, tzinfo=timezone.utc)
    write_settings(
        isolated_home / ".factory" / "sessions" / "p" / "d.settings.json",
        droid_settings([3, 1, 0, 0, 0], model="gpt-5.1"),
        when,
    )
    for flag, expected in (("--kimi", 6), ("--copilot", 11), ("--droid", 4)):
        code = main(["daily", "--json", "--tz", "UTC", flag])
        data = json.loads(capsys.readouterr().out)
        assert (code, data["totals"]["totalTokens"]) == (0, expected), flag


def test_impossible_counts_and_times_are_malformed_not_fatal(
    ledger: Ledger, isolated_home: Path
) -> None:
    """Any source: a count no real call has, or a time past datetime's range, skips that entry
    (counted) and the scan goes on."""
    root = isolated_home / ".copilot" / "session-state"
    write_jsonl(
        root / "s" / "events.jsonl",
        [
            copilot_shutdown("far", "9999-12-31T23:00:00-05:00", {"m": [5, 1, 0, 0, 0, 1]}),
            copilot_shutdown("ok", "2026-01-01T00:00:00Z", {"gpt-5": [7, 1, 0, 0, 0, 1]}),
        ],
    )
    project = isolated_home / ".claude" / "projects" / "p"
    huge = claude_line("m1", "r1", input_tokens=10**30)
    write_jsonl(project / "s.jsonl", [huge, claude_line("m2", "r2", input_tokens=3)])
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 2
    assert sorted(e.input_tokens for e in ledger.events()) == [3, 7]


def test_deep_nesting_and_counts_past_the_limit_are_malformed(
    ledger: Ledger, isolated_home: Path
) -> None:
    deep = '{"type": "assistant", "usage": 1, "x": ' + "[" * 5000 + "]" * 5000 + "}"
    over = claude_line("m1", "r1", output=2 * 10**12)  # above COUNT_LIMIT, in int64
    project = isolated_home / ".claude" / "projects" / "p"
    write_jsonl(project / "s.jsonl", [deep, over, claude_line("m2", "r2", output=7)])
    folder = kimi_session(isolated_home / ".kimi", "/k", "s")
    kimi_deep = '{"timestamp": 1, "token_usage": 1, "x": ' + "[" * 5000 + "]" * 5000 + "}"
    write_jsonl(folder / "wire.jsonl", [kimi_deep, kimi_update(T0, "a", [5, 1, 0, 0])])
    write_jsonl(
        isolated_home / ".copilot" / "session-state" / "c" / "events.jsonl",
        [copilot_shutdown("y1", "0001-01-01T00:00:00+05:00", {"m": [3, 1, 0, 0, 0, 1]})],
    )
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, sum(s.skipped for s in result.sources.values())) == (4, 0)
    assert sorted(e.output_tokens for e in ledger.events()) == [1, 7]

"""Claude Code side questions (``/btw``) and sidechain replays: a copy of a parent's message
under a new request id is the same call, counted once, on the day and in the session where the
call was made; the side question's own answer is a call of its own. Ledgers written before the
id lost its request id are mended when opened."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.ledger import Ledger
from llmledger.store.migrations import MIGRATIONS_TABLE

from .conftest import claude_line, run_scan, totals, write_jsonl

SESSION = "7d1f8a52-3c0e-4f7a-9d55-0b6a1c2e9f10"


def project(home: Path) -> Path:
    return home / ".claude" / "projects" / "-Users-x-proj"


def main_lines() -> list[dict[str, Any]]:
    # Two calls; the first written twice while it streamed (output 3, then 120).
    return [
        claude_line("msg_01A", "req_01A", output=3, cache_read=20_000, ts="2026-03-01T10:00:00Z"),
        claude_line("msg_01A", "req_01A", output=120, cache_read=20_000, ts="2026-03-01T10:00:02Z"),
        claude_line("msg_01B", "req_01B", output=80, cache_read=30_000, ts="2026-03-01T10:05:00Z"),
    ]


def aside_lines() -> list[dict[str, Any]]:
    """``/btw`` the next day: the parent's messages re-logged under the side question's request
    id (sidechain lines, new times), then the side question's own answer."""
    replayed = [
        claude_line(
            "msg_01A",
            "req_btw",
            output=120,
            cache_read=20_000,
            sidechain=True,
            ts="2026-03-02T09:00:00Z",
        ),
        claude_line(
            "msg_01B",
            "req_btw",
            output=80,
            cache_read=30_000,
            sidechain=True,
            ts="2026-03-02T09:00:00Z",
        ),
    ]
    answer = claude_line(
        "msg_01C",
        "req_btw",
        output=40,
        cache_read=31_000,
        sidechain=True,
        ts="2026-03-02T09:00:04Z",
    )
    return [*replayed, answer]


def write_main(home: Path) -> None:
    write_jsonl(project(home) / f"{SESSION}.jsonl", main_lines())


def write_aside(home: Path) -> None:
    path = project(home) / SESSION / "subagents" / "agent-aside_question-a1b2c3d4.jsonl"
    write_jsonl(path, aside_lines())


def day_outputs(ledger: Ledger) -> dict[str, tuple[int, int, int]]:
    return {
        day: (values["output"], values["cache_read"], values["messages"])
        for day, values in totals(ledger, "claude-code").items()
    }


EXPECTED = {"2026-03-01": (200, 50_000, 2), "2026-03-02": (40, 31_000, 1)}


@pytest.mark.parametrize("order", ["one scan", "aside in a later scan"])
def test_aside_copies_count_once_where_the_call_was_made(
    ledger: Ledger, isolated_home: Path, order: str
) -> None:
    write_main(isolated_home)
    if order == "one scan":
        write_aside(isolated_home)
        run_scan(ledger, isolated_home)
    else:
        run_scan(ledger, isolated_home)
        write_aside(isolated_home)
        run_scan(ledger, isolated_home)
    assert day_outputs(ledger) == EXPECTED
    assert sorted(e.id for e in ledger.events()) == [
        "claude:msg_01A",
        "claude:msg_01B",
        "claude:msg_01C",
    ]


def test_sidechain_replay_in_an_older_agent_file_counts_once(
    ledger: Ledger, isolated_home: Path
) -> None:
    write_main(isolated_home)
    replay = aside_lines()[:2]
    write_jsonl(project(isolated_home) / "agent-3ea04571.jsonl", replay)
    run_scan(ledger, isolated_home)
    assert day_outputs(ledger) == {"2026-03-01": (200, 50_000, 2)}


def _old_ledger(path: Path) -> None:
    """A ledger as an earlier version wrote it: ids ``claude:<message>:<request>``, an aside
    copy stored as a second event, and the 0004 migration not yet applied."""
    with Ledger(str(path)) as ledger:
        when = datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
        later = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        common: dict[str, Any] = {"source": "claude-code", "model": "claude-sonnet-4-5"}
        events = [
            ledger.make_event(
                id="claude:msg_01A:req_01A",
                ts=when,
                input_tokens=5,
                output_tokens=120,
                cache_read_tokens=20_000,
                **common,
            ),
            ledger.make_event(
                id="claude:msg_01A:req_btw",
                ts=later,
                input_tokens=5,
                output_tokens=120,
                cache_read_tokens=20_000,
                **common,
            ),
            ledger.make_event(
                id="claude:msg_01B", ts=when, input_tokens=7, output_tokens=80, **common
            ),
            ledger.make_event(
                id="claude:msg_01B:req_01B", ts=when, input_tokens=7, output_tokens=80, **common
            ),
            ledger.make_event(
                id="codex:1:2:3:4",
                ts=when,
                input_tokens=100,
                output_tokens=10,
                source="codex",
                model="gpt-5",
            ),
        ]
        ledger.record_many(events)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(f"DELETE FROM {MIGRATIONS_TABLE} WHERE name = '0004_claude_ids_by_message'")
    conn.close()


def test_opening_an_older_ledger_merges_claude_ids_and_keeps_sums_exact(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_ledger(path)
    with Ledger(str(path)) as ledger:
        ids = sorted(e.id for e in ledger.events())
        assert ids == ["claude:msg_01A", "claude:msg_01B", "codex:1:2:3:4"]
        kept = ledger.get("claude:msg_01A")
        assert kept is not None and kept.ts.day == 1  # the first stored copy, not the replay
        report = ledger.summary(days=3650, tz="UTC")
    by_source: dict[str, int] = {}
    for event in Ledger(str(path)).events():
        by_source[event.source] = by_source.get(event.source, 0) + event.total_tokens
    assert by_source == {"claude-code": 20_125 + 87, "codex": 110}
    # The rollup was rebuilt: the report (which reads it) agrees with the events.
    assert report["totals"]["totalTokens"] == 20_125 + 87 + 110

"""Copilot CLI: events files in an isolated HOME, scanned into a real SQLite ledger; every
total is computed by hand from the lines written."""

from __future__ import annotations

import json
from pathlib import Path

from llmledger.ledger import Ledger
from llmledger.sources import copilot_cli
from tests.ledger_sql import execute_sql

from .conftest import run_scan, totals, write_jsonl
from .new_agent_logs import (
    CHECKPOINT,
    copilot_shutdown,
    copilot_start,
)


def test_copilot_cumulative_shutdowns_count_what_grew(ledger: Ledger, isolated_home: Path) -> None:
    events_file = isolated_home / ".copilot" / "session-state" / "sess-1" / "events.jsonl"
    first = copilot_shutdown(
        "s1", "2026-04-08T05:00:13.000Z", {"gpt-5.4": [4700, 327, 4600, 0, 0, 3]}
    )
    write_jsonl(events_file, [copilot_start("sess-1"), CHECKPOINT, "not json", first])
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 0  # a line that is no session event is never decoded
    # Resumed the next day: the same file gets the session's new cumulative totals.
    second = copilot_shutdown(
        "s2",
        "2026-04-09T05:00:13.000Z",
        {"gpt-5.4": [6700, 427, 5600, 0, 50, 5], "claude-sonnet-4.5-1m": [100, 10, 0, 20, 0, 1]},
    )
    write_jsonl(events_file, [second], mode="a")
    run_scan(ledger, isolated_home)
    days = totals(ledger, "copilot-cli")
    assert days["2026-04-08"] == {
        "input": 100,  # 4700 minus the 4600 cache reads
        "output": 327,
        "cache_read": 4600,
        "cache_write": 0,
        "cache_write_1h": 0,
        "reasoning": 0,
        "messages": 1,
    }
    assert days["2026-04-09"] == {
        "input": 1000 + 80,
        "output": 100 + 10,
        "cache_read": 1000,
        "cache_write": 20,
        "cache_write_1h": 0,
        "reasoning": 50,
        "messages": 2,
    }
    by_model = {e.model: e for e in ledger.events() if e.ts.day == 9}
    assert set(by_model) == {"gpt-5.4", "claude-sonnet-4.5"}
    assert (by_model["gpt-5.4"].requests, by_model["gpt-5.4"].project) == (2, "/src/capp")
    assert {e.session_id for e in ledger.events()} == {"sess-1"}


def test_copilot_resets_without_checkpoints_and_legacy_files(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "copilot-home"
    state = home / "session-state"
    # No usage_checkpoint: an older CLI, whose totals start over on resume: both count in full.
    write_jsonl(
        state / "sess-2" / "events.jsonl",
        [
            copilot_shutdown("a", "2026-03-01T10:00:00Z", {"gpt-5.1": [500, 50, 100, 0, 0, 2]}),
            copilot_shutdown("b", "2026-03-01T11:00:00Z", {"gpt-5.1": [300, 30, 0, 0, 0, 1]}),
            {"type": "session.shutdown", "id": "c", "timestamp": "2026-03-01T12:00:00Z"},
            '{"type": "session.shutdown", "data": ',
        ],
    )
    write_jsonl(  # the flat layout of older versions
        state / "sess-3.jsonl",
        [copilot_shutdown("x", "2026-03-02T10:00:00Z", {"openai/gpt-4.1": [40, 4, 0, 0, 0, 1]})],
    )
    result = run_scan(ledger, isolated_home, env={"COPILOT_HOME": str(home)})
    assert (result.sources["copilot-cli"].files, result.malformed) == (2, 2)
    days = totals(ledger, "copilot-cli")
    assert (days["2026-03-01"]["input"], days["2026-03-01"]["output"]) == (700, 80)
    assert (days["2026-03-01"]["cache_read"], days["2026-03-01"]["messages"]) == (100, 2)
    (legacy,) = [e for e in ledger.events() if e.session_id == "sess-3"]
    assert (legacy.model, legacy.input_tokens) == ("gpt-4.1", 40)


def test_copilot_counter_that_went_down_is_a_reset() -> None:
    id_less = copilot_shutdown("", "2026-04-08T07:00:00Z", {"m": [90, 30, 0, 0, 0, 3]})
    del id_less["id"]
    lines = [
        copilot_start("sess-9"),
        CHECKPOINT,
        copilot_shutdown("s1", "2026-04-08T05:00:00Z", {"m": [100, 10, 0, 0, 0, 1]}),
        copilot_shutdown("s2", "2026-04-08T06:00:00Z", {"m": [60, 20, 0, 0, 0, 2]}),
        id_less,
    ]
    encoded = [json.dumps(x).encode() for x in lines]
    records, malformed, _ = copilot_cli.parse_events(encoded, "f")
    assert malformed == 0
    assert [(r.id, r.input_tokens, r.output_tokens, r.project) for r in records] == [
        ("copilot-cli:sess-9:s1:m", 100, 10, "/src/capp"),
        ("copilot-cli:sess-9:s2:m", 60, 20, "/src/capp"),  # went down: a reset
        ("copilot-cli:sess-9:shutdown2:m", 30, 10, "/src/capp"),  # what grew
    ]
    # Read in parts, each with the state the part before left: the same records.
    for cut in range(len(encoded) + 1):
        head, _, state = copilot_cli.parse_events(encoded[:cut], "f")
        tail, _, _ = copilot_cli.parse_events(encoded[cut:], "f", state)
        assert head + tail == records


def test_copilot_shutdown_still_being_written(ledger: Ledger, isolated_home: Path) -> None:
    events_file = isolated_home / ".copilot" / "session-state" / "s" / "events.jsonl"
    line = json.dumps(
        copilot_shutdown("s1", "2026-04-08T05:00:00Z", {"gpt-5.1": [30, 3, 0, 0, 0, 1]})
    )
    write_jsonl(events_file, [copilot_start("s")])
    with events_file.open("a") as handle:
        handle.write(line[:40])  # the CLI is mid-write
    first = run_scan(ledger, isolated_home)
    assert (first.malformed, list(ledger.events())) == (0, [])
    with events_file.open("a") as handle:
        handle.write(line[40:] + "\n")
    run_scan(ledger, isolated_home)
    (event,) = list(ledger.events())
    assert (event.input_tokens, event.output_tokens, event.project) == (30, 3, "/src/capp")


def test_copilot_totals_depend_on_the_file_not_on_scan_history(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    """Old-CLI shutdowns (full segments), then an upgrade: a checkpoint and a cumulative one."""
    lines = [
        copilot_shutdown("a", "2026-03-01T10:00:00Z", {"m": [500, 50, 0, 0, 0, 1]}),
        copilot_shutdown("b", "2026-03-01T11:00:00Z", {"m": [600, 60, 0, 0, 0, 1]}),
        CHECKPOINT | {"timestamp": "2026-03-01T11:30:00Z"},
        copilot_shutdown("c", "2026-03-01T12:00:00Z", {"m": [700, 70, 0, 0, 0, 2]}),
    ]
    grown = isolated_home / ".copilot" / "session-state" / "s" / "events.jsonl"
    for line in lines:  # scanned while it grew, line by line
        write_jsonl(grown, [line], mode="a")
        run_scan(ledger, isolated_home)
    with Ledger(str(tmp_path / "fresh.db")) as fresh:  # the finished file, in one scan
        run_scan(fresh, isolated_home)
        assert totals(fresh, "copilot-cli") == totals(ledger, "copilot-cli")
    day = totals(ledger, "copilot-cli")["2026-03-01"]
    assert (day["input"], day["output"], day["messages"]) == (500 + 600 + 100, 50 + 60 + 10, 3)


def test_copilot_odd_lines() -> None:
    mention = {"type": "user.message", "data": {"content": "session.shutdown"}}  # the marker
    odd_type = {"type": ["session.start"], "data": {}}
    no_ids = [
        {
            k: v
            for k, v in copilot_shutdown("x", ts, {"m": [10, 5, 0, 0, 9, 1]}).items()
            if k != "id"
        }
        for ts in ("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z")
    ]
    bad_model = copilot_shutdown("y", "2026-03-01T12:00:00Z", {"ok": [4, 1, 0, 0, 0, 1]})
    bad_model["data"]["modelMetrics"]["bad"] = {"usage": {"inputTokens": 1.5}}
    huge = copilot_shutdown("z", "2026-03-01T13:00:00Z", {"big": [10**30, 1, 0, 0, 0, 1]})
    lines = [mention, odd_type, *no_ids, bad_model, huge]
    records, malformed, _ = copilot_cli.parse_events([json.dumps(x).encode() for x in lines], "f")
    assert malformed == 2  # the bad model and the impossible count; the mentions are no events
    assert [(r.id, r.input_tokens, r.output_tokens, r.reasoning_tokens) for r in records] == [
        ("copilot-cli:f:shutdown0:m", 10, 5, 5),  # reasoning is part of output: capped by it
        ("copilot-cli:f:shutdown1:m", 10, 5, 5),
        ("copilot-cli:f:y:ok", 4, 1, 0),
    ]


def test_copilot_last_line_without_newline_counts(ledger: Ledger, isolated_home: Path) -> None:
    events_file = isolated_home / ".copilot" / "session-state" / "s" / "events.jsonl"
    events_file.parent.mkdir(parents=True)
    line = copilot_shutdown("s1", "2026-04-08T05:00:00Z", {"gpt-5.1": [30, 3, 0, 0, 0, 1]})
    events_file.write_text(json.dumps(line))  # complete JSON, no newline after it
    run_scan(ledger, isolated_home)
    assert [e.input_tokens for e in ledger.events()] == [30]


def test_copilot_cursor_without_state_reads_from_the_start(
    ledger: Ledger, isolated_home: Path
) -> None:
    """A cursor with an offset but no parser state (what the whole-file reader of older
    versions stored): the file is read again from the start, nothing counted twice."""
    events_file = isolated_home / ".copilot" / "session-state" / "s" / "events.jsonl"
    first = copilot_shutdown("a", "2026-01-01T10:00:00Z", {"m": [500, 50, 0, 0, 0, 1]})
    write_jsonl(events_file, [copilot_start("s"), CHECKPOINT, first])
    run_scan(ledger, isolated_home)
    execute_sql(ledger, "UPDATE scan_files SET carry = NULL")
    second = copilot_shutdown("b", "2026-01-02T10:00:00Z", {"m": [1500, 150, 0, 0, 0, 2]})
    write_jsonl(events_file, [second], mode="a")
    run_scan(ledger, isolated_home)
    days = totals(ledger, "copilot-cli")
    assert (days["2026-01-01"]["input"], days["2026-01-02"]["input"]) == (500, 1000)
    assert {e.project for e in ledger.events()} == {"/src/capp"}

"""Claude Code: every de-duplication rule of notes/agent-logs.md, on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmledger.ledger import Ledger
from llmledger.sources import claude_code

from .conftest import claude_line, run_scan, totals, write_jsonl


def project_dir(home: Path, name: str = "-Users-x-proj") -> Path:
    return home / ".claude" / "projects" / name


def test_streaming_copies_keep_the_largest(ledger: Ledger, isolated_home: Path) -> None:
    lines = [
        claude_line("msg_1", "req_1", output=1, stop=None, cache_write=25277),
        claude_line("msg_1", "req_1", output=9, stop=None, cache_write=25277),
        claude_line("msg_1", "req_1", output=395, cache_write=25277),
    ]
    write_jsonl(project_dir(isolated_home) / "s1.jsonl", lines)
    result = run_scan(ledger, isolated_home)
    assert result.records == 1
    event = ledger.get("claude:msg_1")
    assert event is not None
    assert (event.input_tokens, event.output_tokens, event.cache_write_tokens) == (4, 395, 25277)
    assert event.session_id == "s1" and event.project == "/Users/x/proj"


def test_largest_copy_wins_even_when_written_first(ledger: Ledger, isolated_home: Path) -> None:
    lines = [claude_line("msg_1", "req_1", output=395), claude_line("msg_1", "req_1", output=4)]
    write_jsonl(project_dir(isolated_home) / "s1.jsonl", lines)
    run_scan(ledger, isolated_home)
    event = ledger.get("claude:msg_1")
    assert event is not None and event.output_tokens == 395


def test_resumed_session_copies_count_once(ledger: Ledger, isolated_home: Path) -> None:
    first = [claude_line("msg_1", "req_1", output=50), claude_line("msg_2", "req_2", output=60)]
    resumed = [*first, claude_line("msg_3", "req_3", output=70, session="s2")]
    write_jsonl(project_dir(isolated_home) / "s1.jsonl", first)
    write_jsonl(project_dir(isolated_home) / "s2.jsonl", resumed)
    run_scan(ledger, isolated_home)
    assert totals(ledger)["2025-09-28"]["output"] == 180
    assert ledger.count() == 3


def test_sidechain_replay_loses_to_the_primary_copy(ledger: Ledger, isolated_home: Path) -> None:
    primary = claude_line("msg_1", "req_1", output=10, session="main")
    replay = claude_line("msg_1", "req_1", output=500, sidechain=True, session="side")
    write_jsonl(project_dir(isolated_home) / "main.jsonl", [primary])
    write_jsonl(project_dir(isolated_home) / "agent-1.jsonl", [replay])
    run_scan(ledger, isolated_home)
    event = ledger.get("claude:msg_1")
    assert event is not None
    assert (event.output_tokens, event.session_id) == (10, "main")


def test_empty_or_missing_request_id_falls_back_to_message_id(
    ledger: Ledger, isolated_home: Path
) -> None:
    lines = [
        claude_line("msg_bdrk_1", None, output=4, cache_write=35066, input_tokens=3),
        claude_line("msg_bdrk_1", "", output=4, cache_write=35066, input_tokens=3),
        claude_line("msg_bdrk_1", None, output=395, cache_write=35066, input_tokens=3),
    ]
    write_jsonl(project_dir(isolated_home) / "s.jsonl", lines)
    run_scan(ledger, isolated_home)
    assert ledger.count() == 1
    day = totals(ledger)["2025-09-28"]
    assert (day["input"], day["output"], day["cache_write"]) == (3, 395, 35066)


def test_same_message_id_under_another_request_id_is_the_same_call(
    ledger: Ledger, isolated_home: Path
) -> None:
    # A response's message id is unique: a copy under a new request id is a replay (a side
    # question re-logs its parent's messages that way), not a second call.
    lines = [claude_line("msg_1", "req_a"), claude_line("msg_1", "req_b")]
    write_jsonl(project_dir(isolated_home) / "s.jsonl", lines)
    run_scan(ledger, isolated_home)
    assert [e.id for e in ledger.events()] == ["claude:msg_1"]


def test_synthetic_lines_are_ignored(ledger: Ledger, isolated_home: Path) -> None:
    lines = [
        claude_line("msg_s", "req_s", model="<synthetic>", input_tokens=0, output=0),
        claude_line("msg_1", "req_1"),
    ]
    write_jsonl(project_dir(isolated_home) / "s.jsonl", lines)
    run_scan(ledger, isolated_home)
    assert [e.model for e in ledger.events()] == ["claude-sonnet-4-20250514"]


def test_one_hour_cache_writes_are_split_and_priced_higher(
    ledger: Ledger, isolated_home: Path
) -> None:
    lines = [
        claude_line("msg_5m", "r1", cache_write=1000, model="claude-sonnet-4-5"),
        claude_line("msg_1h", "r2", cache_write=1000, cache_1h=1000, model="claude-sonnet-4-5"),
    ]
    write_jsonl(project_dir(isolated_home) / "s.jsonl", lines)
    run_scan(ledger, isolated_home)
    five = ledger.get("claude:msg_5m")
    hour = ledger.get("claude:msg_1h")
    assert five is not None and hour is not None
    assert (five.cache_write_tokens, five.cache_write_1h_tokens) == (1000, 0)
    assert (hour.cache_write_tokens, hour.cache_write_1h_tokens) == (0, 1000)
    assert five.cost_nanos is not None and hour.cost_nanos is not None
    # 1.25x vs 2x input on the cache write (everything else equal).
    assert hour.cost_nanos - five.cost_nanos == 1000 * 3000 * (2 - 1.25)


def test_subagent_files_and_progress_lines_are_read(ledger: Ledger, isolated_home: Path) -> None:
    session = project_dir(isolated_home) / "s1"
    write_jsonl(project_dir(isolated_home) / "s1.jsonl", [claude_line("msg_1", "r1")])
    sub = claude_line("msg_sub", "r_sub", output=77, sidechain=True)
    write_jsonl(session / "subagents" / "agent-a1.jsonl", [sub])
    nested = claude_line("msg_prog", "r_prog", output=33)
    progress = {
        "type": "progress",
        "timestamp": "2025-09-28T06:20:00.000Z",
        "sessionId": "s1",
        "cwd": "/Users/x/proj",
        "isSidechain": False,
        "data": {"type": "agent_progress", "message": {**nested, "timestamp": None}},
    }
    hook = {"type": "progress", "data": {"type": "hook_progress", "usage": "none"}}
    write_jsonl(project_dir(isolated_home) / "s1.jsonl", [progress, hook], mode="a")
    run_scan(ledger, isolated_home)
    ids = sorted(e.id for e in ledger.events())
    assert ids == ["claude:msg_1", "claude:msg_prog", "claude:msg_sub"]
    prog = ledger.get("claude:msg_prog")
    assert prog is not None and prog.output_tokens == 33
    assert prog.ts.isoformat() == "2025-09-28T06:20:00+00:00"  # the outer line's time


def test_config_dir_list_and_xdg_location(ledger: Ledger, isolated_home: Path) -> None:
    a, b = isolated_home / "cfg-a", isolated_home / "cfg-b"
    write_jsonl(a / "projects" / "p" / "s.jsonl", [claude_line("msg_a", "r")])
    write_jsonl(b / "projects" / "p" / "s.jsonl", [claude_line("msg_b", "r")])
    write_jsonl(isolated_home / ".claude" / "projects" / "p" / "s.jsonl", [claude_line("m", "r")])
    run_scan(ledger, isolated_home, env={"CLAUDE_CONFIG_DIR": f"{a}, {b}"})
    assert sorted(e.id for e in ledger.events()) == ["claude:msg_a", "claude:msg_b"]
    roots = claude_code.SOURCE.roots({"HOME": str(isolated_home)})
    assert roots == [
        isolated_home / ".config" / "claude" / "projects",
        isolated_home / ".claude" / "projects",
    ]


def test_malformed_lines_are_skipped_and_counted(ledger: Ledger, isolated_home: Path) -> None:
    good = json.dumps(claude_line("msg_1", "r1"))
    lines = [
        good[: len(good) // 2],  # cut off mid-line
        '{"type":"assistant","message":{"usage":"not an object"}}',
        good,
    ]
    write_jsonl(project_dir(isolated_home) / "s.jsonl", lines)
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 2
    assert ledger.count() == 1


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (claude_line("m", "r", output=5), "claude:m"),
        (claude_line("m", "", output=5), "claude:m"),
        (claude_line("m", None, output=5), "claude:m"),
    ],
)
def test_parse_line_ids(line: dict[str, object], expected: str) -> None:
    record = claude_code.parse_line(json.dumps(line).encode(), "s", "p")
    assert record is not None and record.id == expected


def test_sidechain_replay_in_a_later_batch_loses_too(
    ledger: Ledger, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmledger.scan import batches

    monkeypatch.setattr(batches, "BATCH_RECORDS", 1)  # one write per file
    primary = claude_line("msg_1", "req_1", output=10, session="main")
    replay = claude_line("msg_1", "req_1", output=500, sidechain=True, session="side")
    write_jsonl(project_dir(isolated_home) / "b-main.jsonl", [primary])
    write_jsonl(project_dir(isolated_home) / "a-agent.jsonl", [replay])
    run_scan(ledger, isolated_home)
    event = ledger.get("claude:msg_1")
    assert event is not None
    assert (event.output_tokens, event.session_id) == (10, "main")

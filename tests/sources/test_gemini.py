"""Gemini CLI chats: legacy .json, .jsonl with last-wins records, $set and $rewindTo."""

from __future__ import annotations

import json
from pathlib import Path

from llmledger.ledger import Ledger

from .conftest import gemini_message, run_scan, totals, write_jsonl

DAY = "2026-07-31"


def chats(home: Path, project: str = "abc123") -> Path:
    return home / ".gemini" / "tmp" / project / "chats"


def test_legacy_json_session(ledger: Ledger, isolated_home: Path) -> None:
    session = {
        "sessionId": "sess-legacy",
        "projectHash": "abc123",
        "startTime": f"{DAY}T12:00:00.000Z",
        "lastUpdated": f"{DAY}T12:10:00.000Z",
        "messages": [
            {"id": "u1", "timestamp": f"{DAY}T12:00:00.000Z", "type": "user", "content": "hi"},
            gemini_message("g1", inp=1000, cached=400, out=50, thoughts=20),
            gemini_message("g2", inp=500, out=5),
        ],
    }
    path = chats(isolated_home) / "session-2026-07-31T12-00-aaaa1111.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(session))
    run_scan(ledger, isolated_home)
    assert totals(ledger, "gemini-cli")[DAY] == {
        "input": (1000 - 400) + 500,
        "cache_read": 400,
        "output": 50 + 20 + 5,  # thoughts billed as output
        "reasoning": 20,
        "cache_write": 0,
        "cache_write_1h": 0,
        "messages": 2,
    }


def test_jsonl_last_record_wins_and_rewound_calls_still_count(
    ledger: Ledger, isolated_home: Path
) -> None:
    lines = [
        {"sessionId": "sess-new", "projectHash": "abc123", "startTime": f"{DAY}T12:00:00Z"},
        {"id": "u1", "timestamp": f"{DAY}T12:00:01.000Z", "type": "user", "content": "hi"},
        gemini_message("g1", out=1),
        gemini_message("g1", out=10),  # re-appended when it changed: the same call
        gemini_message("g2", out=20),
        {"$set": {"summary": "a chat"}},
        {"$rewindTo": "g1"},  # drops g1 and g2 from the conversation, not from the bill
        gemini_message("g3", out=30),
    ]
    write_jsonl(chats(isolated_home) / "session-2026-07-31T12-00-bbbb2222.jsonl", lines)
    run_scan(ledger, isolated_home)
    day = totals(ledger, "gemini-cli")[DAY]
    assert (day["messages"], day["output"]) == (3, 10 + 20 + 30)
    assert {e.session_id for e in ledger.events()} == {"sess-new"}


def test_re_appended_record_in_a_later_scan_replaces_the_first(
    ledger: Ledger, isolated_home: Path
) -> None:
    path = chats(isolated_home) / "session-2026-07-31T12-00-cccc3333.jsonl"
    write_jsonl(path, [{"sessionId": "s3", "projectHash": "abc123"}, gemini_message("g1", out=1)])
    run_scan(ledger, isolated_home)
    write_jsonl(path, [gemini_message("g1", out=40)], mode="a")
    run_scan(ledger, isolated_home)
    day = totals(ledger, "gemini-cli")[DAY]
    assert (day["messages"], day["output"]) == (1, 40)


def test_subagent_chats_are_read(ledger: Ledger, isolated_home: Path) -> None:
    parent = chats(isolated_home) / "session-2026-07-31T12-00-dddd4444.jsonl"
    write_jsonl(parent, [{"sessionId": "parent", "projectHash": "abc123"}, gemini_message("g1")])
    child = chats(isolated_home) / "parent" / "child.jsonl"
    write_jsonl(child, [{"sessionId": "child", "projectHash": "abc123"}, gemini_message("g1")])
    run_scan(ledger, isolated_home)
    assert sorted(e.id for e in ledger.events()) == ["gemini:child:g1", "gemini:parent:g1"]

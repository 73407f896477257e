"""Droid (Factory): session settings files in an isolated HOME, scanned into a real SQLite
ledger; every total is computed by hand from the files written."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from llmledger.ledger import Ledger
from llmledger.sources import droid

from .conftest import run_scan, totals, write_jsonl
from .new_agent_logs import (
    droid_settings,
    write_settings,
)


def test_droid_session_totals_grow_and_replace(ledger: Ledger, isolated_home: Path) -> None:
    folder = isolated_home / ".factory" / "sessions" / "-src-dapp"
    write_jsonl(folder / "d1.jsonl", [{"type": "session_start", "id": "d1", "cwd": "/src/dapp"}])
    settings = folder / "d1.settings.json"
    first_day = datetime(2025, 11, 4, 12, 0, tzinfo=timezone.utc)
    extra = {
        "model": "custom:Claude-Opus-4.5-[Anthropic]-0",
        "providerLock": "anthropic",
        "providerLockTimestamp": "2025-11-04T10:26:09.323Z",
    }
    write_settings(settings, droid_settings([73400, 47485, 100, 3518842, 15], **extra), first_day)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "droid")["2025-11-04"] == {
        "input": 73400,
        "output": 47500,  # thinking is billed as output on top of outputTokens
        "cache_read": 3518842,
        "cache_write": 100,
        "cache_write_1h": 0,
        "reasoning": 15,
        "messages": 1,
    }
    (event,) = list(ledger.events())
    assert (event.id, event.model, event.provider, event.project) == (
        "droid:d1",
        "claude-opus-4.5",
        "anthropic",
        "/src/dapp",
    )
    assert event.cost_status == "computed" and event.requests == 0

    # The session goes on two days later: the totals grew, the one event moves and grows.
    later = datetime(2025, 11, 6, 9, 0, tzinfo=timezone.utc)
    write_settings(settings, droid_settings([80000, 50000, 100, 4000000, 15], **extra), later)
    run_scan(ledger, isolated_home)
    days = totals(ledger, "droid")
    assert list(days) == ["2025-11-06"]
    assert (days["2025-11-06"]["input"], days["2025-11-06"]["messages"]) == (80000, 1)


def test_droid_model_from_transcript_and_bad_files(ledger: Ledger, isolated_home: Path) -> None:
    root = isolated_home / ".factory" / "sessions"
    when = datetime(2025, 12, 1, 8, 0, tzinfo=timezone.utc)
    # An older install: files directly in sessions/, no model in the settings.
    write_jsonl(
        root / "d2.jsonl",
        [
            {"type": "session_start", "id": "d2", "cwd": "/src/old"},
            {
                "type": "message",
                "message": {"content": [{"text": "<system-reminder>Model: gpt-5.1"}]},
            },
        ],
    )
    write_settings(root / "d2.settings.json", droid_settings([10, 5, 0, 0, 0]), when)
    write_settings(root / "d3.settings.json", {"autonomyMode": "auto"}, when)  # no usage
    (root / "d4.settings.json").write_text('{"tokenUsage": {"inputTokens": "lots"}}')
    (root / "d5.settings.json").write_bytes(b"\x00\xff not json")
    result = run_scan(ledger, isolated_home)
    assert (result.sources["droid"].files, result.malformed) == (4, 2)
    (event,) = list(ledger.events())
    assert (event.model, event.project, event.provider) == ("gpt-5.1", "/src/old", None)
    assert event.ts == when


def test_droid_model_names() -> None:
    assert droid.model_name("custom:Claude-Opus-4.5-Thinking-[Anthropic]-0") == (
        "claude-opus-4.5-thinking"
    )
    assert droid.model_name("gemini-2.5-pro") == "gemini-2.5-pro"
    assert droid.model_name("GPT-5.1") == "gpt-5.1"
    assert droid.model_name("custom:[x]") == "unknown"


def test_droid_dates_stay_while_totals_do(ledger: Ledger, isolated_home: Path) -> None:
    settings = isolated_home / ".factory" / "sessions" / "p" / "d.settings.json"
    usage = droid_settings([100, 10, 0, 0, 0], model="gpt-5.1")
    write_settings(settings, usage, datetime(2025, 11, 4, 12, 0, tzinfo=timezone.utc))
    run_scan(ledger, isolated_home)
    # A month later only a setting changed (and the file was replaced by a rename).
    settings.unlink()
    write_settings(
        settings, usage | {"autonomyMode": "high"}, datetime(2025, 12, 9, tzinfo=timezone.utc)
    )
    run_scan(ledger, isolated_home)
    assert list(totals(ledger, "droid")) == ["2025-11-04"]


def test_droid_lock_time_when_later_than_the_file(ledger: Ledger, isolated_home: Path) -> None:
    root = isolated_home / ".factory" / "sessions" / "p"
    old_mtime = datetime(2020, 1, 1, tzinfo=timezone.utc)  # a copy that lost its times
    for name, lock in (
        ("a", "2025-11-04T10:26:09.323Z"),
        ("b", "2025-11-05T23:30:00"),  # no zone: UTC
        ("c", "yesterday"),  # not a time: only the date is lost, not the usage
        ("d", "9999-12-31T23:00:00-05:00"),
    ):
        usage = droid_settings([1, 1, 0, 0, 0], model="gpt-5.1", providerLockTimestamp=lock)
        write_settings(root / f"{name}.settings.json", usage, old_mtime)
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 0
    dates = {e.id: e.ts for e in ledger.events()}
    assert dates == {
        "droid:a": datetime(2025, 11, 4, 10, 26, 9, 323000, tzinfo=timezone.utc),
        "droid:b": datetime(2025, 11, 5, 23, 30, tzinfo=timezone.utc),
        "droid:c": old_mtime,
        "droid:d": old_mtime,
    }


def test_droid_date_survives_a_read_mid_write_and_a_rename(
    ledger: Ledger, isolated_home: Path
) -> None:
    settings = isolated_home / ".factory" / "sessions" / "p" / "d.settings.json"
    usage = droid_settings([100, 10, 0, 0, 0], model="gpt-5.1")
    write_settings(settings, usage, datetime(2025, 11, 4, 12, 0, tzinfo=timezone.utc))
    run_scan(ledger, isolated_home)
    settings.write_text('{"tokenUsage": {"inputTok')  # caught while Droid rewrites it
    assert run_scan(ledger, isolated_home).malformed == 1
    fresh = settings.with_name("tmp.json")  # written beside it, renamed over it: a new inode
    write_settings(fresh, usage, datetime(2025, 12, 9, tzinfo=timezone.utc))
    os.replace(fresh, settings)
    run_scan(ledger, isolated_home)
    assert list(totals(ledger, "droid")) == ["2025-11-04"]

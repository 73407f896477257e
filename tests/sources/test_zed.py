"""Zed's agent: ``threads.db`` as zed-industries/zed's ``ThreadsDatabase`` creates it, rows
written as ``save_thread_sync`` writes them (the thread JSON with its ``version``,
zstd-compressed in a stream, ``updated_at`` in RFC 3339), scanned into a real ledger."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import zstandard

from llmledger.ledger import Ledger
from llmledger.sources import zed

from .conftest import run_scan, totals

# zed-industries/zed @ 0642ec7e, crates/agent/src/db.rs, ThreadsDatabase::new.
SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    summary TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data_type TEXT NOT NULL,
    data BLOB NOT NULL
);
ALTER TABLE threads ADD COLUMN parent_id TEXT;
ALTER TABLE threads ADD COLUMN folder_paths TEXT;
ALTER TABLE threads ADD COLUMN folder_paths_order TEXT;
ALTER TABLE threads ADD COLUMN created_at TEXT;
"""


def thread(usage: dict[str, int], model: tuple[str, str] | None, updated: str) -> dict[str, Any]:
    """A ``DbThread`` as serialized (``TokenUsage`` leaves out zero fields)."""
    messages = [
        {"User": {"id": "u1", "content": [{"Text": "fix the failing test"}]}},
        {"Agent": {"content": [{"Text": "Reading it. " * 20000}], "tool_results": {}}},
    ]
    data: dict[str, Any] = {
        "title": "Fix the failing test",
        "messages": messages,
        "updated_at": updated,
        "detailed_summary": None,
        "initial_project_snapshot": None,
        "cumulative_token_usage": {k: v for k, v in usage.items() if v},
        "request_token_usage": {"u1": {"input_tokens": 5}},
        "model": {"provider": model[0], "model": model[1]} if model else None,
        "profile": "write",
        "version": "0.3.0",
    }
    return data


def zstd(data: dict[str, Any]) -> bytes:
    # zstd::encode_all streams: the frame does not state the content size.
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    return compressor.compress(json.dumps(data).encode()) + compressor.flush()


def save(
    conn: sqlite3.Connection, thread_id: str, data: dict[str, Any], kind: str = "zstd"
) -> None:
    blob = zstd(data) if kind == "zstd" else json.dumps(data).encode()
    conn.execute(
        "INSERT INTO threads (id, parent_id, folder_paths, folder_paths_order, summary,"
        " updated_at, data_type, data, created_at)"
        " VALUES (?, NULL, '/src/zed-app', '0', ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, data = excluded.data",
        (thread_id, data["title"], data["updated_at"], kind, blob, data["updated_at"]),
    )
    conn.commit()


def threads_db(data: Path) -> sqlite3.Connection:
    path = data / "threads" / "threads.db"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    return conn


def usage(inp: int, out: int, write: int, read: int) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
    }


def test_threads_are_aggregate_events(ledger: Ledger, isolated_home: Path) -> None:
    conn = threads_db(isolated_home / ".local" / "share" / "zed")
    sonnet = ("anthropic", "claude-sonnet-4-5")
    save(conn, "t1", thread(usage(40, 900, 5000, 60000), sonnet, "2026-03-02T09:30:00+00:00"))
    save(
        conn,
        "t2",
        thread(usage(300, 20, 0, 0), ("zed.dev", "gpt-5"), "2026-03-02T10:00:00Z"),
        "json",
    )
    save(conn, "t3", thread(usage(0, 0, 0, 0), None, "2026-03-02T11:00:00Z"))  # nothing sent
    save(conn, "t4", thread(usage(9, 1, 0, 0), ("ollama", "qwen-local"), "2026-03-02T11:00:00Z"))
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, result.sources["zed"].files) == (0, 1)
    events = {e.id: e for e in ledger.events()}
    assert sorted(events) == ["zed:t1", "zed:t2", "zed:t4"]
    first = events["zed:t1"]
    assert (first.model, first.provider, first.requests) == ("claude-sonnet-4-5", "anthropic", 0)
    assert (first.cost_status, events["zed:t2"].cost_status) == ("computed", "computed")
    assert events["zed:t4"].cost_status == "unpriced"
    assert totals(ledger, "zed")["2026-03-02"] == {
        "input": 40 + 300 + 9,
        "output": 900 + 20 + 1,
        "cache_read": 60000,
        "cache_write": 5000,
        "cache_write_1h": 0,
        "reasoning": 0,
        "messages": 3,
    }
    assert run_scan(ledger, isolated_home).read == 0
    save(conn, "t1", thread(usage(80, 1800, 5000, 120000), sonnet, "2026-03-03T08:00:00Z"))
    assert run_scan(ledger, isolated_home).read == 1
    grown = ledger.get("zed:t1")
    assert grown is not None and (grown.output_tokens, grown.ts.day) == (1800, 3)
    assert ledger.count() == 3
    conn.close()


def test_bad_rows_are_counted_and_macos_is_found(ledger: Ledger, isolated_home: Path) -> None:
    data = isolated_home / "Library" / "Application Support" / "Zed"
    conn = threads_db(data)
    save(conn, "ok", thread(usage(1, 1, 0, 0), None, "2026-03-02T09:00:00Z"))
    conn.execute(
        "INSERT INTO threads (id, summary, updated_at, data_type, data) VALUES"
        " ('cut', 's', '2026-03-02T09:00:00Z', 'zstd', ?),"
        " ('text', 's', '2026-03-02T09:00:00Z', 'json', ?)",
        (b"\x28\xb5\x2f\xfd garbage", '{"cumulative_token_usage": {"input_tokens": -5'),
    )
    conn.commit()
    conn.close()
    assert zed.data_dir({"HOME": str(isolated_home)}) == data
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, [e.id for e in ledger.events()]) == (2, ["zed:ok"])
    with pytest.raises(zed.Malformed):
        zed.thread_json("brotli", b"x")


def test_without_zstandard_the_database_is_skipped_with_the_install_line(
    ledger: Ledger, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = threads_db(isolated_home / ".local" / "share" / "zed")
    save(conn, "t1", thread(usage(1, 1, 0, 0), None, "2026-03-02T09:00:00Z"))
    conn.close()
    monkeypatch.setitem(__import__("sys").modules, "zstandard", None)
    result = run_scan(ledger, isolated_home)
    (skipped,) = result.skipped
    assert skipped.source == "zed" and "pip install zstandard" in skipped.reason
    assert ledger.count() == 0

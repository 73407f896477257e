"""Grok CLI: ``~/.grok/grok.db`` with the tables of superagent-ai/grok-cli's
``src/storage/migrations.ts`` (STRICT, as it creates them), rows written as ``recordUsageEvent``
writes them, scanned into a real ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llmledger.ledger import Ledger

from .conftest import run_scan, totals

# superagent-ai/grok-cli @ fb97af83, src/storage/migrations.ts (createInitialSchema).
SCHEMA = """
CREATE TABLE IF NOT EXISTS workspaces (
  id TEXT PRIMARY KEY,
  scope_key TEXT NOT NULL UNIQUE,
  canonical_path TEXT NOT NULL,
  git_root TEXT,
  display_name TEXT NOT NULL,
  last_seen_at TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  title TEXT,
  recap_text TEXT,
  recap_model TEXT,
  recap_updated_at TEXT,
  model TEXT NOT NULL,
  mode TEXT NOT NULL,
  cwd_at_start TEXT NOT NULL,
  cwd_last TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS usage_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  message_seq INTEGER,
  source TEXT NOT NULL,
  model TEXT NOT NULL,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  total_tokens INTEGER NOT NULL DEFAULT 0,
  cost_micros INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
) STRICT;
"""


def grok_db(home: Path) -> sqlite3.Connection:
    path = home / ".grok" / "grok.db"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO workspaces VALUES ('w1', 'k', '/src/grokked', NULL, 'grokked', ?)",
        ("2026-03-02T09:00:00.000Z",),
    )
    conn.execute(
        "INSERT INTO sessions VALUES ('s1', 'w1', 'Fix tests', NULL, NULL, NULL,"
        " 'grok-code-fast-1', 'agent', '/src/grokked', '/src/grokked', 'active', ?, ?)",
        ("2026-03-02T09:00:00.000Z", "2026-03-02T09:10:00.000Z"),
    )
    conn.commit()
    return conn


def usage(
    conn: sqlite3.Connection,
    source: str,
    model: str,
    counts: tuple[int, int, int],
    created: str,
) -> None:
    inp, out, total = counts
    conn.execute(
        "INSERT INTO usage_events (session_id, message_seq, source, model, input_tokens,"
        " output_tokens, total_tokens, cost_micros, created_at)"
        " VALUES ('s1', NULL, ?, ?, ?, ?, ?, 0, ?)",
        (source, model, inp, out, total, created),
    )
    conn.commit()


def test_usage_rows_are_events_read_once(ledger: Ledger, isolated_home: Path) -> None:
    conn = grok_db(isolated_home)
    usage(conn, "message", "grok-code-fast-1", (12000, 400, 12400), "2026-03-02T09:01:00.000Z")
    usage(conn, "title", "grok-3-mini", (300, 12, 312), "2026-03-02T09:01:01.000Z")
    usage(conn, "task", "grok-4-1-fast-reasoning", (8000, 900, 9400), "2026-03-02T09:05:00.000Z")
    usage(conn, "other", "some-local-model", (10, 2, 12), "2026-03-02T09:06:00.000Z")
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, result.sources["grok-cli"].files) == (0, 1)
    events = {e.id: e for e in ledger.events()}
    assert sorted(events) == [f"grok-cli:s1:{n}" for n in (1, 2, 3, 4)]
    turn = events["grok-cli:s1:1"]
    assert (turn.model, turn.provider, turn.project, turn.session_id) == (
        "grok-code-fast-1",
        "xai",
        "/src/grokked",
        "s1",
    )
    assert turn.details == {
        "requests_unknown": True,
        "input_includes_cache": True,
        "grok_usage_source": "message",
    }
    assert events["grok-cli:s1:3"].details["reported_total_tokens"] == 9400  # type: ignore[index]
    assert turn.cost_status == "computed"
    assert events["grok-cli:s1:4"].cost_status == "unpriced"
    assert totals(ledger, "grok-cli")["2026-03-02"] == {
        "input": 12000 + 300 + 8000 + 10,
        "output": 400 + 12 + 900 + 2,
        "cache_read": 0,
        "cache_write": 0,
        "cache_write_1h": 0,
        "reasoning": 0,
        "messages": 4,
    }
    # Nothing new: nothing read. Rows appended while Grok CLI runs: only they are read.
    assert run_scan(ledger, isolated_home).read == 0
    usage(conn, "message", "grok-code-fast-1", (13000, 100, 13100), "2026-03-02T09:08:00.000Z")
    again = run_scan(ledger, isolated_home)
    assert (again.read, again.sources["grok-cli"].records, ledger.count()) == (1, 1, 5)
    conn.close()


def test_bad_rows_are_counted_and_a_foreign_database_skipped(
    ledger: Ledger, isolated_home: Path
) -> None:
    conn = grok_db(isolated_home)
    usage(conn, "message", "grok-4", (10, 1, 11), "2026-03-02T09:01:00.000Z")
    usage(conn, "message", "grok-4", (10, 1, 11), "yesterday-ish")
    usage(conn, "message", "grok-4", (10**13, 1, 11), "2026-03-02T09:02:00.000Z")
    usage(conn, "message", "grok-4", (0, 0, 0), "2026-03-02T09:03:00.000Z")  # nothing used
    conn.close()
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, [e.id for e in ledger.events()]) == (2, ["grok-cli:s1:1"])
    other = isolated_home / ".grok" / "grok.db"
    other.unlink()
    sqlite3.connect(other).execute("CREATE TABLE usage_events (x)")
    skipped = run_scan(ledger, isolated_home)
    assert [s.source for s in skipped.skipped] == ["grok-cli"]
    assert ledger.count() == 1  # what was read stays

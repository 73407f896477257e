"""Hermes Agent: ``state.db`` with the ``sessions`` and ``session_model_usage`` tables of
NousResearch/hermes-agent's ``SCHEMA_SQL`` (the columns this reader uses, in their order and
types), rows as its token writer leaves them, scanned into a real ledger."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from llmledger.ledger import Ledger
from llmledger.sources import hermes

from .conftest import run_scan, totals

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    model TEXT,
    model_config TEXT,
    parent_session_id TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    end_reason TEXT,
    message_count INTEGER DEFAULT 0,
    tool_call_count INTEGER DEFAULT 0,
    input_tokens INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    cache_read_tokens INTEGER DEFAULT 0,
    cache_write_tokens INTEGER DEFAULT 0,
    reasoning_tokens INTEGER DEFAULT 0,
    cwd TEXT,
    billing_provider TEXT,
    billing_base_url TEXT,
    billing_mode TEXT,
    estimated_cost_usd REAL,
    actual_cost_usd REAL,
    title TEXT,
    api_call_count INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS session_model_usage (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    billing_provider TEXT NOT NULL DEFAULT '',
    billing_base_url TEXT NOT NULL DEFAULT '',
    billing_mode TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL DEFAULT '',
    api_call_count INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    estimated_cost_usd REAL NOT NULL DEFAULT 0,
    actual_cost_usd REAL NOT NULL DEFAULT 0,
    cost_status TEXT,
    cost_source TEXT,
    first_seen REAL,
    last_seen REAL,
    PRIMARY KEY (session_id, model, billing_provider, billing_base_url, billing_mode, task)
);
"""
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()
# [input, output, cache read, cache write, reasoning, api calls]
Usage = list[int]


def state_db(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    return conn


def session(conn: sqlite3.Connection, sid: str, usage: Usage, model: str, ended: bool) -> None:
    inp, out, read, write, reasoning, calls = usage
    conn.execute(
        "INSERT INTO sessions (id, source, model, started_at, ended_at, input_tokens,"
        " output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cwd,"
        " billing_provider, api_call_count) VALUES (?, 'cli', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sid,
            model,
            START,
            START + 3600 if ended else None,
            inp,
            out,
            read,
            write,
            reasoning,
            "/src/hermes-app",
            "anthropic",
            calls,
        ),
    )
    conn.commit()


def model_row(conn: sqlite3.Connection, sid: str, model: str, task: str, usage: Usage) -> None:
    inp, out, read, write, reasoning, calls = usage
    conn.execute(
        "INSERT INTO session_model_usage (session_id, model, billing_provider, billing_base_url,"
        " billing_mode, task, api_call_count, input_tokens, output_tokens, cache_read_tokens,"
        " cache_write_tokens, reasoning_tokens, first_seen, last_seen)"
        " VALUES (?, ?, 'anthropic', 'https://api.anthropic.com', '', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (sid, model, task, calls, inp, out, read, write, reasoning, START + 60, START + 1800),
    )
    conn.commit()


def test_model_rows_and_what_they_leave_out(ledger: Ledger, isolated_home: Path) -> None:
    conn = state_db(isolated_home / ".hermes" / "state.db")
    sonnet = "claude-sonnet-4-5"
    # Session a: 1,000 input (+ cache) before the model rows existed, then two routes.
    session(conn, "a", [1500, 300, 9000, 800, 40, 7], sonnet, ended=True)
    model_row(conn, "a", sonnet, "", [400, 250, 8000, 700, 40, 5])
    model_row(conn, "a", "claude-haiku-4-5", "title", [100, 20, 0, 0, 0, 1])
    # Session b: an older version, no model rows.
    session(conn, "b", [2000, 100, 0, 0, 0, 3], "gpt-5", ended=False)
    profile = state_db(isolated_home / ".hermes" / "profiles" / "work" / "state.db")
    session(profile, "c", [10, 1, 0, 0, 0, 1], "mystery-model", ended=True)
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, result.sources["hermes"].files) == (0, 2)
    events = {e.id: e for e in ledger.events()}
    route = "anthropic:https://api.anthropic.com::"
    assert sorted(events) == sorted(
        [
            f"hermes:a:{sonnet}:{route}",
            f"hermes:a:claude-haiku-4-5:{route}title",
            "hermes:a",
            "hermes:b",
            "hermes:c",
        ]
    )
    main = events[f"hermes:a:{sonnet}:{route}"]
    assert (main.requests, main.reasoning_tokens, main.cost_status) == (5, 40, "computed")
    assert (main.project, main.provider, main.ts.minute) == ("/src/hermes-app", "anthropic", 30)
    rest = events["hermes:a"]
    assert (rest.input_tokens, rest.cache_read_tokens, rest.cache_write_tokens) == (1000, 1000, 100)
    assert (rest.output_tokens, rest.requests, rest.ts.hour) == (30, 1, 10)  # at the session's end
    assert events["hermes:b"].requests == 3 and events["hermes:b"].ts.hour == 9  # no end: start
    assert events["hermes:c"].cost_status == "unpriced"
    day = totals(ledger, "hermes")["2026-03-02"]
    assert day == {
        "input": 1500 + 2000 + 10,
        "output": 300 + 100 + 1,
        "cache_read": 9000,
        "cache_write": 800,
        "cache_write_1h": 0,
        "reasoning": 40,
        "messages": 5,
    }
    # Nothing new, nothing read; the totals grow, the events grow: each token once.
    assert run_scan(ledger, isolated_home).read == 0
    conn.execute(
        "UPDATE session_model_usage SET input_tokens = 900, api_call_count = 6 WHERE task = ''"
    )
    conn.execute("UPDATE sessions SET input_tokens = 2000 WHERE id = 'a'")
    conn.commit()
    assert run_scan(ledger, isolated_home).read == 1
    assert totals(ledger, "hermes")["2026-03-02"]["input"] == 2000 + 2000 + 10
    assert ledger.count() == 5
    conn.close()
    profile.close()


def test_home_variable_bad_rows_and_foreign_database(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "hermes-home"
    conn = state_db(home / "state.db")
    session(conn, "ok", [10, 1, 0, 0, 0, 1], "gpt-5", ended=True)
    session(conn, "bad", [10, 1, 0, 0, 0, 1], "gpt-5", ended=True)
    conn.execute("UPDATE sessions SET output_tokens = 'lots' WHERE id = 'bad'")
    model_row(conn, "ok", "gpt-5", "x", [10**13, 1, 0, 0, 0, 1])
    conn.commit()
    conn.close()
    result = run_scan(ledger, isolated_home, env={"HERMES_HOME": str(home)})
    assert (result.malformed, [e.id for e in ledger.events()]) == (2, ["hermes:ok"])
    assert hermes.hermes_home({"HOME": "/h"}) == Path("/h/.hermes")
    (home / "state.db").unlink()
    sqlite3.connect(home / "state.db").execute("CREATE TABLE t (x)")
    skipped = run_scan(ledger, isolated_home, env={"HERMES_HOME": str(home)})
    assert [s.source for s in skipped.skipped] == ["hermes"]

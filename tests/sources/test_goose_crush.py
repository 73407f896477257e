"""Goose's sessions database (the schema of block/goose's session_manager.rs ``create_schema``)
scanned into a real ledger, and Crush, an agent whose files keep no token counts: ``sources``
says so instead of guessing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.sources import crush, goose

from .conftest import run_scan, totals

# block/goose @ dbec1655, crates/goose/src/session/session_manager.rs, create_schema.
GOOSE_SCHEMA = """
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    user_set_name BOOLEAN DEFAULT FALSE,
    session_type TEXT NOT NULL DEFAULT 'user',
    working_dir TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    extension_data TEXT DEFAULT '{}',
    total_tokens INTEGER,
    input_tokens INTEGER,
    output_tokens INTEGER,
    accumulated_total_tokens INTEGER,
    accumulated_input_tokens INTEGER,
    accumulated_output_tokens INTEGER,
    schedule_id TEXT,
    recipe_json TEXT,
    user_recipe_values_json TEXT,
    provider_name TEXT,
    model_config_json TEXT,
    tenant_id TEXT,
    user_id TEXT
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL,
    content_json TEXT NOT NULL,
    created_timestamp INTEGER NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    tokens INTEGER,
    metadata_json TEXT
);
"""

INSERT = """INSERT INTO sessions (id, name, working_dir, created_at, updated_at, total_tokens,
input_tokens, output_tokens, accumulated_total_tokens, accumulated_input_tokens,
accumulated_output_tokens, provider_name, model_config_json)
VALUES (?, 'CLI Session', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def goose_db(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")  # as Goose opens it
    conn.executescript(GOOSE_SCHEMA)
    return conn


def add_session(
    conn: sqlite3.Connection,
    session: str,
    accumulated: tuple[int | None, int | None],
    *,
    updated: str = "2026-03-02 09:30:00",
    model: str | None = "claude-sonnet-4-5",
    provider: str | None = "anthropic",
) -> None:
    config = json.dumps({"model_name": model, "context_limit": None}) if model else None
    inp, out = accumulated
    last = (inp or 0) // 3
    conn.execute(
        INSERT,
        (
            session,
            "/src/goose-app",
            "2026-03-02 09:00:00",
            updated,
            last + 10,
            last,
            10,
            (inp or 0) + (out or 0),
            inp,
            out,
            provider,
            config,
        ),
    )
    conn.commit()


def test_goose_sessions_are_aggregate_events(ledger: Ledger, isolated_home: Path) -> None:
    db = isolated_home / ".local" / "share" / "goose" / "sessions" / "sessions.db"
    conn = goose_db(db)
    add_session(conn, "20260302_1", (12000, 800))
    add_session(conn, "20260302_2", (900, 100), model="gpt-5", provider="openai")
    add_session(conn, "20260302_3", (None, None))  # a session that never called a model
    add_session(conn, "20260302_4", (50, 5), model="mystery-9", provider="ollama")
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, result.sources["goose"].files) == (0, 1)
    events = {e.id: e for e in ledger.events()}
    assert sorted(events) == ["goose:20260302_1", "goose:20260302_2", "goose:20260302_4"]
    first = events["goose:20260302_1"]
    assert (first.model, first.provider, first.project) == (
        "claude-sonnet-4-5",
        "anthropic",
        "/src/goose-app",
    )
    assert (first.requests, first.details) == (
        0,
        {"session_aggregate": True, "requests_unknown": True, "input_includes_cache": True},
    )
    assert first.cost_status == "computed"
    assert events["goose:20260302_4"].cost_status == "unpriced"  # never guessed
    assert totals(ledger, "goose")["2026-03-02"] == {
        "input": 12000 + 900 + 50,
        "output": 800 + 100 + 5,
        "cache_read": 0,
        "cache_write": 0,
        "cache_write_1h": 0,
        "reasoning": 0,
        "messages": 3,
    }
    # Nothing new: nothing read. The totals grow (Goose still running, in its WAL): the
    # session's one event grows, and moves to its last activity.
    assert run_scan(ledger, isolated_home).read == 0
    conn.execute(
        "UPDATE sessions SET accumulated_input_tokens = 15000, accumulated_output_tokens = 950,"
        " updated_at = '2026-03-03 08:00:00' WHERE id = '20260302_1'"
    )
    conn.commit()
    again = run_scan(ledger, isolated_home)
    assert again.read == 1 and ledger.count() == 3
    grown = ledger.get("goose:20260302_1")
    assert grown is not None and (grown.input_tokens, grown.ts.day) == (15000, 3)
    conn.close()


def test_goose_path_root_bad_rows_and_a_foreign_database(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    root = tmp_path / "goose-root"
    conn = goose_db(root / "data" / "sessions" / "sessions.db")
    add_session(conn, "ok", (10, 1))
    add_session(conn, "no-time", (10, 1), updated="soon")
    conn.execute("UPDATE sessions SET created_at = 'later' WHERE id = 'no-time'")
    add_session(conn, "huge", (10**13, 1))
    conn.commit()
    conn.close()
    result = run_scan(ledger, isolated_home, env={"GOOSE_PATH_ROOT": str(root)})
    assert (result.malformed, [e.id for e in ledger.events()]) == (2, ["goose:ok"])
    assert goose.data_dir({"HOME": "/h", "GOOSE_PATH_ROOT": "relative"}) == Path(
        "/h/.local/share/goose"
    )
    assert goose.parse_time("2026-03-02T09:30:00.123+02:00").hour == 7  # type: ignore[union-attr]
    # Not Goose's database: skipped with its reason, the scan completes.
    other = tmp_path / "other"
    (other / "data" / "sessions").mkdir(parents=True)
    sqlite3.connect(other / "data" / "sessions" / "sessions.db").execute("CREATE TABLE t (x)")
    skipped = run_scan(ledger, isolated_home, env={"GOOSE_PATH_ROOT": str(other)})
    assert [s.source for s in skipped.skipped] == ["goose"]


def test_sources_says_crush_keeps_no_token_counts(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    projects = isolated_home / ".local" / "share" / "crush" / "projects.json"
    projects.parent.mkdir(parents=True)
    projects.write_text(
        json.dumps({"projects": [{"path": "/src/app", "data_dir": "/src/app/.crush"}]})
    )
    assert main(["sources", "--json"]) == 0
    listed = {s["source"]: s for s in json.loads(capsys.readouterr().out)["sources"]}
    assert listed["crush"]["locations"] == [{"path": str(projects), "exists": True}]
    assert listed["crush"]["noTokenCounts"] == crush.SOURCE.no_token_counts
    assert listed["goose"]["noTokenCounts"] is None
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["sources", "--no-scan"]) == 0
    text = capsys.readouterr().out
    assert "Crush: no token counts on disk (a session keeps its last request's size" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert crush.global_data_dir({"HOME": "/h", "CRUSH_GLOBAL_DATA": "/d"}) == Path("/d")
    assert crush.global_data_dir({"HOME": "/h", "LOCALAPPDATA": "C:/L"}) == Path("C:/L/crush")
    with pytest.raises(OSError, match="no token counts"):
        crush.SOURCE.parse(projects, 0, None, 1)

"""OpenCode: the SQLite database (read-only), channel databases and legacy message files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmledger.ledger import Ledger

from .conftest import run_scan, totals

CREATED = 1733011200000  # 2024-12-01T00:00:00Z


def message(n: int, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "role": "assistant",
        "time": {"created": CREATED + n * 1000, "completed": CREATED + n * 1000 + 500},
        "modelID": "claude-sonnet-4-5",
        "providerID": "anthropic",
        "tokens": {
            "input": 1000,
            "output": 500,
            "reasoning": 50,
            "cache": {"read": 200, "write": 100},
        },
        "cost": 0.0,
    }
    data.update(extra)
    return data


def data_dir(home: Path) -> Path:
    path = home / ".local" / "share" / "opencode"
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_db(path: Path, rows: list[tuple[str, str, dict[str, Any]]], wal: bool = True) -> None:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, session_id TEXT, "
        "time_created INTEGER, time_updated INTEGER, data TEXT)"
    )
    conn.executemany(
        "INSERT OR REPLACE INTO message VALUES (?, ?, ?, ?, ?)",
        [(i, s, d["time"]["created"], d["time"]["created"], json.dumps(d)) for i, s, d in rows],
    )
    conn.commit()
    conn.close()


def legacy(home: Path, session: str, message_id: str, data: dict[str, Any]) -> None:
    folder = data_dir(home) / "storage" / "message" / session
    folder.mkdir(parents=True, exist_ok=True)
    full = {"id": message_id, "sessionID": session, **data}
    (folder / f"{message_id}.json").write_text(json.dumps(full))


def test_database_channel_database_and_legacy_files(ledger: Ledger, isolated_home: Path) -> None:
    base = data_dir(isolated_home)
    make_db(base / "opencode.db", [("msg_1", "ses_a", message(1)), ("msg_2", "ses_a", message(2))])
    make_db(base / "opencode-beta.db", [("msg_3", "ses_b", message(3))])
    user = {"role": "user", "time": {"created": CREATED}}
    make_db(base / "opencode.db", [("msg_u", "ses_a", user)])
    legacy(isolated_home, "ses_a", "msg_1", message(1))  # also in the database: counted once
    legacy(isolated_home, "ses_c", "msg_4", message(4))
    run_scan(ledger, isolated_home)
    assert sorted(e.id for e in ledger.events()) == [f"opencode:msg_{n}" for n in (1, 2, 3, 4)]
    day = totals(ledger, "opencode")["2024-12-01"]
    assert day == {
        "input": 4000,
        "output": 4 * 550,  # reasoning is billed as output on top of output
        "reasoning": 4 * 50,
        "cache_read": 800,
        "cache_write": 400,
        "cache_write_1h": 0,
        "messages": 4,
    }
    event = ledger.get("opencode:msg_1")
    assert event is not None and event.session_id == "ses_a" and event.cost_status == "computed"


def test_database_is_opened_read_only_and_rescanned_when_it_grows(
    ledger: Ledger, isolated_home: Path
) -> None:
    db = data_dir(isolated_home) / "opencode.db"
    make_db(db, [("msg_1", "s", message(1))])
    conn = sqlite3.connect(db)  # OpenCode still running: WAL holds recent writes
    conn.execute(
        "INSERT INTO message VALUES ('msg_2', 's', 0, ?, ?)",
        (CREATED + 2000, json.dumps(message(2))),
    )
    conn.commit()
    before = db.stat().st_mtime_ns
    run_scan(ledger, isolated_home)
    assert ledger.count() == 2
    assert db.stat().st_mtime_ns == before
    conn.execute(
        "INSERT INTO message VALUES ('msg_3', 's', 0, ?, ?)",
        (CREATED + 3000, json.dumps(message(3))),
    )
    conn.commit()
    conn.close()
    again = run_scan(ledger, isolated_home)
    assert again.read == 1 and ledger.count() == 3


def test_corrupt_database_is_skipped_and_counted(ledger: Ledger, isolated_home: Path) -> None:
    base = data_dir(isolated_home)
    (base / "opencode.db").write_bytes(b"this is not sqlite\x00\xff" * 500)
    legacy(isolated_home, "ses_c", "msg_4", message(4))
    result = run_scan(ledger, isolated_home)
    assert [s.path for s in result.skipped] == [str(base / "opencode.db")]
    assert ledger.count() == 1
    assert str(base / "opencode.db") not in ledger.scan_cursors()


@pytest.fixture
def locked_db(isolated_home: Path) -> Iterator[Path]:
    db = data_dir(isolated_home) / "opencode.db"
    make_db(db, [("msg_1", "s", message(1))], wal=False)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield db
    holder.execute("ROLLBACK")
    holder.close()


def test_locked_database_is_skipped_and_nothing_written(
    ledger: Ledger, isolated_home: Path, locked_db: Path
) -> None:
    result = run_scan(ledger, isolated_home)
    assert len(result.skipped) == 1 and "locked" in result.skipped[0].reason
    assert ledger.count() == 0


def test_locked_database_is_read_once_released(ledger: Ledger, isolated_home: Path) -> None:
    db = data_dir(isolated_home) / "opencode.db"
    make_db(db, [("msg_1", "s", message(1))], wal=False)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    assert [s.path for s in run_scan(ledger, isolated_home).skipped] == [str(db)]
    holder.execute("ROLLBACK")
    holder.close()
    assert run_scan(ledger, isolated_home).skipped == []
    assert ledger.count() == 1

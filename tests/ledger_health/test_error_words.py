"""Each kind of SQLite trouble, produced for real, becomes its own one-line StoreError."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmledger.errors import DamagedLedgerError, ReadOnlyLedgerError, StoreError
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.store import connect as connect_module
from llmledger.store.diagnose import explain
from llmledger.store.sqlite import SQLiteStore

from .conftest import EVENTS, Run


def _error(conn: sqlite3.Connection, sql: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute(sql)
    return caught.value


@pytest.fixture
def held(ledger_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's lock on the ledger."""
    other = sqlite3.connect(ledger_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_a_lock_held_elsewhere(ledger_path: Path, held: sqlite3.Connection) -> None:
    mine = sqlite3.connect(ledger_path, timeout=0)
    error = explain(_error(mine, "BEGIN IMMEDIATE"), ledger_path, writing=True, conn=mine)
    assert type(error) is StoreError
    assert str(error) == (
        f"the ledger at {ledger_path} is locked by another process (database is locked); "
        "nothing was written; try again when it has finished"
    )


def test_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    # SQLite's page limit fails writes exactly as a full disk does (SQLITE_FULL).
    real = connect_module.connect

    def small(target: str, *, uri: bool = False) -> sqlite3.Connection:
        conn = real(target, uri=uri)
        conn.execute("PRAGMA max_page_count = 3")
        return conn

    monkeypatch.setattr(connect_module, "connect", small)
    result = run("record", "--model", "gpt-4o", "--input", "1", "--db", tmp_path / "l.db")
    assert result.code == 1
    assert "the disk holding the ledger at" in result.one_error_line
    assert "is full (database or disk is full); nothing was written" in result.err


def test_a_read_only_connection_written_to(ledger_path: Path) -> None:
    conn = sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True)
    error = explain(_error(conn, "DELETE FROM meta"), ledger_path, writing=True, conn=conn)
    assert isinstance(error, ReadOnlyLedgerError) and "nothing was written" in str(error)


def test_a_missing_table_in_a_sound_file_is_not_damage(ledger_path: Path) -> None:
    conn = sqlite3.connect(ledger_path)
    error = explain(_error(conn, "SELECT * FROM nowhere"), ledger_path, writing=False, conn=conn)
    assert not isinstance(error, DamagedLedgerError)
    assert "no such table: nowhere" in str(error) and "llmledger db check" in str(error)


def test_an_opened_store_on_a_read_only_request_never_writes(ledger_path: Path) -> None:
    store = SQLiteStore(ledger_path, readonly=True)
    assert (store.readonly, store.count()) == (True, EVENTS)
    with pytest.raises(ReadOnlyLedgerError, match="opened read-only"):
        store.write_events([UsageEvent(model="gpt-4o", id="new")])
    store.close()


def test_an_sqlite_error_inside_a_ledger_block_is_said_in_words(ledger_path: Path) -> None:
    with pytest.raises(StoreError, match="no such table: nowhere"), Ledger(ledger_path) as ledger:
        ledger.store._conn.execute("SELECT * FROM nowhere")

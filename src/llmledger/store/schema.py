"""A ledger file's schema: is the file a ledger at all, and which migrations does it still need.

Read before anything is written: a file with tables but no migrations table belongs to another
application and is refused untouched; one with migrations this version does not know was
written by a newer llmledger; a read-only ledger that still needs migrations cannot be read by
this version's queries, and says so.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from llmledger.errors import ReadOnlyLedgerError, StoreError
from llmledger.store.connect import no_ledger
from llmledger.store.diagnose import not_a_ledger
from llmledger.store.migrations import MIGRATIONS, MIGRATIONS_TABLE

Migration = tuple[str, list[str]]


def pending_migrations(
    conn: sqlite3.Connection, path: Path | None, *, new: bool
) -> list[Migration]:
    """The migrations the file at ``path`` still needs (all of them for an empty file, which
    is a NoLedgerError unless ``new`` ones may be made)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables and path is not None and not new:
        raise no_ledger(path, "the file holds no tables")
    if tables and MIGRATIONS_TABLE not in tables:
        others = ", ".join(sorted(tables)[:5])
        raise not_a_ledger(path, f"it is an SQLite database with other tables: {others}")
    applied: set[str] = set()
    if tables:
        applied = {row[0] for row in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}
    unknown = applied - {name for name, _ in MIGRATIONS}
    if unknown:
        raise StoreError(
            f"{path} was written by a newer llmledger "
            f"(migrations {', '.join(sorted(unknown))}); upgrade llmledger"
        )
    return [(name, sql) for name, sql in MIGRATIONS if name not in applied]


def cannot_upgrade(path: Path | None, pending: list[Migration], why: str) -> ReadOnlyLedgerError:
    return ReadOnlyLedgerError(
        f"the ledger at {path} needs upgrading for this llmledger (migrations "
        f"{', '.join(name for name, _ in pending)} are pending) but is read-only ({why}); "
        "make it writable and run any command that records (e.g. `llmledger scan`) once, "
        "then reports can read it anywhere"
    )


def apply(conn: sqlite3.Connection, migration: Migration) -> None:
    """Run one migration and record it (the caller holds the write transaction)."""
    name, statements = migration
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    for statement in statements:
        conn.execute(statement)
    conn.execute(
        f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
        (name, int(time.time())),
    )

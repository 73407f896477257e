"""``db backup``: a consistent copy of a ledger with SQLite's online backup API.

The source is opened read-only, so a ledger on a read-only disk can be copied, and the copy is
a snapshot even while another process records. Pages are copied as they are: a damaged ledger
can be backed up before anyone tries to recover it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llmledger.errors import FileError
from llmledger.store.connect import no_ledger, open_read_only
from llmledger.store.diagnose import explain, not_a_ledger, read_header


def backup(source: Path, target: Path, *, name: Path | None = None) -> int | None:
    """Copy the ledger at ``source`` into ``target`` (a new or empty file, called ``name`` in
    messages); returns the events in the copy, or None when they cannot be counted (a
    damaged ledger)."""
    if not source.is_file():
        raise no_ledger(source)
    try:
        is_sqlite = read_header(source).sqlite
    except OSError:
        is_sqlite = True  # let SQLite say what is wrong
    if not is_sqlite:
        raise not_a_ledger(source, "it is not an SQLite file")
    conn = open_read_only(source)
    try:
        copy = sqlite3.connect(target, isolation_level=None)
    except sqlite3.Error as exc:
        conn.close()
        raise FileError(f"cannot write {name or target}: {exc}") from exc
    try:
        conn.backup(copy)
        return _events(copy)
    except sqlite3.Error as exc:
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if code in _TARGET_TROUBLE:
            raise FileError(f"cannot write {name or target}: {exc}") from exc
        raise explain(exc, source, writing=False) from exc
    finally:
        copy.close()
        conn.close()


# Result codes that come from writing the copy: full disk, I/O error, read-only or missing.
_TARGET_TROUBLE = frozenset({8, 10, 13, 14})


def _events(conn: sqlite3.Connection) -> int | None:
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.DatabaseError:
        return None

"""Opening the ledger file: whether it may be created, and read-write or read-only.

- ``create=False`` (commands that only read) never makes a file or a directory: a missing or
  empty ledger is a NoLedgerError that says how to make one.
- A ledger whose file or directory cannot be written opens read-only: ``mode=ro``, or
  ``immutable=1`` when SQLite cannot create the WAL index beside it (a read-only directory or
  file system, where nobody can write a WAL, so nothing changes under the reader).
- A file that is not SQLite is refused before SQLite touches it; one cut short is damaged.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import msgspec

from llmledger.errors import NoLedgerError, StoreError
from llmledger.store import diagnose

_CANTOPEN = 14


# A msgspec Struct, not a dataclass: every run that opens a ledger loads this module, and a
# dataclass costs ~3.5 M instructions to create at import (a Struct ~0.1 M).
class Opened(msgspec.Struct, frozen=True):
    conn: sqlite3.Connection
    readonly: bool
    why_readonly: str  # "" when writable


def connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(
        target,
        uri=uri,
        timeout=30,
        check_same_thread=False,
        isolation_level=None,
        cached_statements=512,
    )


def no_ledger(path: Path, why: str = "") -> NoLedgerError:
    because = f" ({why})" if why else ""
    return NoLedgerError(
        f"there is no ledger at {path} yet{because}; commands that only read never create "
        f"one: create it with {diagnose.command(path, 'scan')} (imports your coding agents' "
        f"logs) or {diagnose.command(path, 'record …')}, or point --db at an existing ledger"
    )


def open_file(path: Path, *, create: bool, readonly: bool) -> Opened:
    """Open the ledger at ``path``; raises StoreError (or a subclass) saying why it cannot."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory; point --db at a file, e.g. {path / 'ledger.db'}")
    if not path.exists():
        if not create or readonly:
            raise no_ledger(path)
        return Opened(_create(path), False, "")
    try:
        header = diagnose.read_header(path)
    except OSError as exc:
        raise StoreError(f"cannot read the ledger at {path}: {exc.strerror or exc}") from exc
    if header.size == 0:
        if not create or readonly:
            raise no_ledger(path, "the file is empty")
    elif not header.sqlite:
        raise diagnose.not_a_ledger(path, "it is not an SQLite file")
    elif cut := diagnose.truncation(path, header):
        raise diagnose.damaged(path, cut)
    why = "opened read-only" if readonly else _unwritable(path)
    if why:
        return Opened(open_read_only(path), True, why)
    try:
        return Opened(connect(path.absolute().as_uri() + "?mode=rw", uri=True), False, "")
    except sqlite3.Error as exc:
        raise diagnose.explain(exc, path, writing=False) from exc


def _unwritable(path: Path) -> str:
    """Why SQLite could not write the ledger here ('' when it can): the file, or the directory
    where it keeps the write-ahead log."""
    if not os.access(path, os.W_OK):
        return "the file is not writable"
    directory = path.absolute().parent
    if not os.access(directory, os.W_OK):
        return f"its directory {directory} is not writable"
    return ""


def _create(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the ledger at {path}: its directory {path.parent} cannot be made "
            f"({exc.strerror or exc})"
        ) from exc
    try:
        return connect(path.absolute().as_uri() + "?mode=rwc", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot create the ledger at {path} ({exc}); is {path.parent} writable?"
        ) from exc


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can only read ``path`` (an existing SQLite file)."""
    base = path.absolute().as_uri()
    conn = connect(base + "?mode=ro", uri=True)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF != _CANTOPEN:
            raise diagnose.explain(exc, path, writing=False) from exc
        # A WAL-mode file in a directory where SQLite may not create the WAL index: nobody
        # can write a WAL there, so the file is read as it stands, unless a WAL is left over.
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"the ledger at {path} has changes in {wal} that cannot be read while its "
                "directory is read-only; copy both files to a writable directory and point "
                "--db at the copy"
            ) from exc
        conn = connect(base + "?immutable=1", uri=True)
    except sqlite3.Error as exc:
        conn.close()
        raise diagnose.explain(exc, path, writing=False) from exc
    conn.execute("PRAGMA query_only = ON")
    return conn

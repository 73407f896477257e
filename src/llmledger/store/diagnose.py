"""What went wrong with a ledger file, in words: sqlite3 errors become one StoreError each.

SQLite reports many different troubles as ``sqlite3.DatabaseError``: a lock held by another
process, a full disk, an I/O error, a read-only file, damaged pages, a file that is not a
database at all. Each gets its own message here, saying what happened and what to do next;
"not an llmledger database" is kept for files that really are not one (no SQLite header, or
SQLite without our tables), never for a damaged ledger whose owner must not be told to replace
it. Checks that read the whole file run only once an error was seen (``quick_check``) or before
the first write of a store (``walk``, which loads every page: ~30 ms per million events).
"""

from __future__ import annotations

import shlex
import sqlite3
import struct
from pathlib import Path

import msgspec

from llmledger.errors import (
    DamagedLedgerError,
    NotALedgerError,
    ReadOnlyLedgerError,
    StoreError,
)

SQLITE_MAGIC = b"SQLite format 3\x00"

# Primary result codes (sqlite3.h); Python 3.11 exposes them as exc.sqlite_errorcode.
_ERROR, _PERM, _BUSY, _LOCKED, _NOMEM, _READONLY = 1, 3, 5, 6, 7, 8
_IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 10, 11, 13, 14, 26


# A msgspec Struct, not a dataclass: every run that opens a ledger loads this module, and a
# dataclass costs ~3.5 M instructions to create at import (a Struct ~0.1 M).
class Header(msgspec.Struct, frozen=True):
    """The first 100 bytes of an SQLite file, as far as they tell whether it is whole."""

    size: int  # bytes in the file
    sqlite: bool  # starts with the SQLite magic string
    page_size: int
    pages: int | None  # the page count the header records, when it is valid

    @property
    def truncated(self) -> bool:
        return self.sqlite and self.pages is not None and self.size < self.pages * self.page_size


def read_header(path: Path) -> Header:
    """The header of ``path`` (raises OSError when it cannot be read)."""
    with open(path, "rb") as file:
        data = file.read(100)
        size = file.seek(0, 2)
    if not data.startswith(SQLITE_MAGIC):
        return Header(size, False, 0, None)
    if len(data) < 100:
        return Header(size, True, 4096, 1)  # cut inside its own header: truncated
    page_size = struct.unpack(">H", data[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change, pages, valid_for = (struct.unpack(">I", data[i : i + 4])[0] for i in (24, 28, 92))
    return Header(size, True, page_size, pages if pages and change == valid_for else None)


def truncation(path: Path, header: Header) -> str | None:
    """'the file is cut short …' when ``path`` holds fewer bytes than its header records.

    Not judged while a write-ahead log is there: a checkpoint may have written page 1 (with the
    new size) before the pages after it, and the log still holds them."""
    wal = Path(f"{path}-wal")
    if not header.truncated or (wal.exists() and wal.stat().st_size > 0):
        return None
    assert header.pages is not None
    expected = header.pages * header.page_size
    return f"the file is cut short: {header.size:,} of the {expected:,} bytes its header records"


def command(path: Path | None, text: str) -> str:
    """An ``llmledger`` command line naming the ledger with --db, ready to copy."""
    where = "" if path is None else f" --db {shlex.quote(str(path))}"
    return f"`llmledger {text}{where}`"


def damaged(path: Path | None, detail: str) -> DamagedLedgerError:
    """The one message for a damaged ledger: what, that nothing was written, what to do."""
    where = shlex.quote(str(path)) if path is not None else "the ledger"
    return DamagedLedgerError(
        f"the ledger at {path} is damaged ({detail}); nothing was written. "
        f"Run {command(path, 'db check')} for details and "
        f"{command(path, 'db backup FILE')} to keep a copy, then recover what it holds with "
        f"`sqlite3 {where} .recover | sqlite3 NEW.db` (or re-import the agents' logs with "
        f"`llmledger scan --full --db NEW.db`) and point --db at NEW.db"
    )


def not_a_ledger(path: Path | None, why: str) -> NotALedgerError:
    return NotALedgerError(
        f"{path} is not an llmledger database ({why}); point --db / LLMLEDGER_DB at another file"
    )


def read_only(path: Path | None, why: str) -> ReadOnlyLedgerError:
    return ReadOnlyLedgerError(
        f"the ledger at {path} is read-only ({why}); nothing was written. Reports can still "
        f"read it; make the file and its directory writable, or copy it with "
        f"{command(path, 'db backup FILE')} and point --db at the copy"
    )


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether SQLite reports damaged pages (or a file that is not a database)."""
    code = int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return code in (_CORRUPT, _NOTADB) or "malformed" in str(exc)


def quick_check(conn: sqlite3.Connection, limit: int = 3) -> list[str]:
    """``PRAGMA quick_check``'s findings: [] when the file is sound."""
    try:
        rows = conn.execute(f"PRAGMA quick_check({int(limit)})").fetchall()
    except sqlite3.DatabaseError as exc:  # evidence of damage only when SQLite says so
        return [str(exc)] if is_damage(exc) else []
    found = [line for row in rows for line in str(row[0]).splitlines()]
    return [] if found == ["ok"] else [line for line in found if not line.startswith("***")]


def walk(conn: sqlite3.Connection) -> None:
    """Load every page of every table and index (a b-tree count over each) with SQLite's cell
    size check on: raises ``sqlite3.DatabaseError`` at a page whose header or cells do not
    fit, or that is not what its parent says it is.

    A few times cheaper than ``quick_check`` (which decodes every row and index entry), and
    it finds overwritten or missing pages, which is what damage from outside SQLite looks
    like: all of 120 random 4 KB overwrites that quick_check found, here."""
    objects = conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index') "
        "AND rootpage > 0 AND name NOT LIKE 'sqlite_stat%'"
    ).fetchall()
    conn.execute("PRAGMA cell_size_check = ON")
    try:
        for kind, name, table in objects:
            quoted = '"' + str(name).replace('"', '""') + '"'
            if kind == "table":
                conn.execute(f"SELECT COUNT(*) FROM {quoted} NOT INDEXED").fetchone()
            else:
                owner = '"' + str(table).replace('"', '""') + '"'
                conn.execute(f"SELECT COUNT(*) FROM {owner} INDEXED BY {quoted}").fetchone()
    finally:
        conn.execute("PRAGMA cell_size_check = OFF")


def explain(
    exc: sqlite3.Error,
    path: Path | None,
    *,
    writing: bool,
    conn: sqlite3.Connection | None = None,
) -> StoreError:
    """The StoreError that says what ``exc`` means for the ledger at ``path``.

    ``conn`` (the caller holds its lock) lets an ambiguous error be told apart from damage
    with a quick_check, which reads the whole file: only ever on this error path."""
    detail = clean(str(exc) or type(exc).__name__)
    code = int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    done = "nothing was written; " if writing else ""
    if is_damage(exc):
        return _damage_or_foreign(path, detail)
    if code in (_BUSY, _LOCKED):
        return StoreError(
            f"the ledger at {path} is locked by another process ({detail}); {done}"
            "try again when it has finished"
        )
    if code == _FULL:
        return StoreError(
            f"the disk holding the ledger at {path} is full ({detail}); nothing was written; "
            "free some space and try again"
        )
    if code == _READONLY:
        return read_only(path, detail)
    if code in (_CANTOPEN, _PERM):
        return StoreError(
            f"cannot open the ledger at {path} ({detail}); check that the file and its "
            "directory exist and that you may read (and, to record, write) them"
        )
    if code == _NOMEM:
        return StoreError(f"out of memory using the ledger at {path} ({detail}); {done}try again")
    # SQLITE_ERROR (e.g. a table gone), an I/O error, or none at all (a text column that is
    # not UTF-8) may be damage: the file's own check tells.
    ambiguous = code in (_IOERR, _ERROR) or (code == 0 and type(exc) is sqlite3.OperationalError)
    if ambiguous and conn is not None:
        problems = quick_check(conn)
        if problems:
            return damaged(path, f"{detail}; quick_check: {clean(problems[0])}")
    if code == _IOERR:
        return StoreError(
            f"cannot read or write the ledger at {path}: I/O error ({detail}); {done}"
            f"check the disk, then run {command(path, 'db check')}"
        )
    return StoreError(
        f"the ledger at {path} failed: {detail}; {done}run {command(path, 'db check')}"
    )


def clean(detail: str, limit: int = 160) -> str:
    """An SQLite message fit for one line: without the bytes of a damaged text it quotes."""
    detail = detail.split(" with text '", 1)[0]
    detail = "".join(ch if ch.isprintable() else "?" for ch in detail)
    return detail if len(detail) <= limit else detail[: limit - 1] + "…"


def _damage_or_foreign(path: Path | None, detail: str) -> StoreError:
    """SQLite says malformed / not a database: damage, unless the file is not SQLite at all."""
    if path is None:
        return damaged(path, detail)
    try:
        header = read_header(path)
    except OSError:
        return damaged(path, detail)
    if not header.sqlite:
        return not_a_ledger(path, "it is not an SQLite file")
    return damaged(path, truncation(path, header) or detail)

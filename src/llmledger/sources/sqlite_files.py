"""What the agents that keep usage in an SQLite database share: finding their databases,
reading one read-only (the agent may be writing it, in WAL mode, right now) and a fingerprint
that folds in the write-ahead log, where its recent writes sit until a checkpoint."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from llmledger.sources.base import Fingerprint, SourceFile, fingerprint
from llmledger.sources.walk import note_unreadable

T = TypeVar("T")


class DatabaseUnreadable(OSError):
    """A database that is locked, corrupt or not the agent's."""


def connect_readonly(path: Path) -> sqlite3.Connection:
    """``path`` opened read-only; raises DatabaseUnreadable when it cannot be opened."""
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error as exc:
        raise DatabaseUnreadable(f"cannot open {path}: {exc}") from exc


def read_database(path: Path, read: Callable[[sqlite3.Connection], T]) -> T:
    """What ``read`` takes from ``path`` opened read-only (closed after). An SQLite error on the
    way (locked, corrupt, not a database) raises DatabaseUnreadable."""
    conn = connect_readonly(path)
    try:
        return read(conn)
    except sqlite3.Error as exc:
        raise DatabaseUnreadable(f"cannot read {path}: {exc}") from exc
    finally:
        conn.close()


def select_rows(
    conn: sqlite3.Connection, table: str, wanted: tuple[str, ...]
) -> list[dict[str, object]]:
    """The rows of ``table`` as column -> value; a ``wanted`` column the table lacks (an older
    schema) reads as None, a missing table as no rows."""
    present = columns(conn, table)
    if not present:
        return []
    parts = [c if c in present else f"NULL AS {c}" for c in wanted]
    rows = conn.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchall()
    return [dict(zip(wanted, values)) for values in rows]


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The columns of ``table`` (empty when there is no such table)."""
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def wal_fingerprint(path: str) -> Fingerprint:
    """The database's identity and state, its ``-wal`` file included. An empty ``-wal`` is left
    out: reading a WAL database read-only creates one (and cannot delete it), which must not
    make the next scan read the unchanged database again."""
    main = fingerprint(path)
    try:
        wal = os.stat(f"{path}-wal")
    except OSError:
        return main
    if wal.st_size == 0:
        return main
    return Fingerprint(
        main.device, main.inode, main.size + wal.st_size, max(main.mtime_ns, wal.st_mtime_ns)
    )


def database_files(source: str, paths: Iterable[Path]) -> Iterator[SourceFile]:
    """The databases among ``paths`` that are there; one that cannot even be looked at (its
    folder unreadable) is noted (``noting_unreadable``) and skipped."""
    for path in paths:
        try:
            found = path.is_file()
        except OSError as exc:
            note_unreadable(path, exc)
            continue
        if found:
            yield SourceFile(source, str(path), "sqlite")


def databases_in(source: str, folder: Path, accept: Callable[[str], bool]) -> Iterator[SourceFile]:
    """The databases in ``folder`` itself whose name passes ``accept``, by name; none when the
    folder cannot be listed (the scan notes an unreadable root itself)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    yield from database_files(source, (folder / name for name in names if accept(name)))


class DatabaseSource:
    """What the sources that read whole SQLite databases share: each of ``roots`` that exists
    is a file to read, whose state includes its write-ahead log (the agents run in WAL mode)."""

    name: str

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        raise NotImplementedError

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        return database_files(self.name, self.roots(env))

    def fingerprint(self, path: str) -> Fingerprint:
        return wal_fingerprint(path)

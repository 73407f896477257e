"""Stores own the database: the embedded SQLite default, PostgreSQL to scale out."""

from __future__ import annotations

from pathlib import Path

from llmledger.errors import StoreError
from llmledger.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "open_store"]


def open_store(url: str | Path) -> SQLiteStore:
    """Open the store a path or URL names: a file path, ``sqlite:///path``,
    ``sqlite:///:memory:`` or ``postgresql://…``."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        raise StoreError(
            "PostgreSQL ledgers are not available in this version of llmledger; "
            "use a SQLite path for --db"
        )
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif text.startswith("sqlite://"):
        raise StoreError(f"malformed SQLite URL {url!r}: use sqlite:///path/to/ledger.db")
    elif "://" in text:
        raise StoreError(
            f"unsupported database URL {url!r}: use a path, sqlite:/// or postgresql://"
        )
    path = Path(text).expanduser() if text != ":memory:" else text
    return SQLiteStore(path)

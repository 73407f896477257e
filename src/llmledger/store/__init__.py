"""Stores own the database: the embedded SQLite default, or PostgreSQL to scale out.

``open_store`` opens the store a path or URL names; everything else in the package reaches a
store through the Ledger (``llmledger.ledger``), never directly.
"""

from __future__ import annotations

from pathlib import Path

from llmledger.store.base import Store
from llmledger.store.location import is_postgres, store_target

__all__ = ["Store", "open_store"]


def open_store(url: str | Path, *, create: bool = True, readonly: bool = False) -> Store:
    """Open the store a path or URL names: a file path, ``sqlite:///path``,
    ``sqlite:///:memory:`` or ``postgresql://…`` (which needs the ``postgres`` extra)."""
    if is_postgres(url):
        from llmledger.store.postgres_open import open_postgres

        return open_postgres(str(url), create=create, readonly=readonly)
    from llmledger.store.sqlite import SQLiteStore

    return SQLiteStore(store_target(url), create=create, readonly=readonly)

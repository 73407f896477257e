"""Stores own the database: the embedded SQLite default (PostgreSQL to scale out comes next).

``open_store`` opens the store a path or URL names; everything else in the package reaches a
store through the Ledger (``llmledger.ledger``), never directly.
"""

from __future__ import annotations

from pathlib import Path

from llmledger.store.base import Store
from llmledger.store.location import store_target

__all__ = ["Store", "open_store"]


def open_store(url: str | Path, *, create: bool = True, readonly: bool = False) -> Store:
    """Open the store a path or URL names: a file path, ``sqlite:///path``,
    ``sqlite:///:memory:`` (``postgresql://…`` is refused in words until it lands)."""
    from llmledger.store.sqlite import SQLiteStore

    return SQLiteStore(store_target(url), create=create, readonly=readonly)

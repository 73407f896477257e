"""Where a ``--db`` value points: a file path, ``sqlite:///path`` or ``sqlite:///:memory:``."""

from __future__ import annotations

from pathlib import Path

from llmledger.errors import StoreError


def store_target(url: str | Path) -> Path | str:
    """The SQLite file (or ``":memory:"``) a path or URL names; StoreError for other URLs."""
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
    return Path(text).expanduser() if text != ":memory:" else text

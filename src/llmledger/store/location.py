"""Where a ``--db`` value points: a file path, ``sqlite:///path``, ``sqlite:///:memory:``, or
a PostgreSQL server (``postgresql://…``)."""

from __future__ import annotations

from pathlib import Path

from llmledger.errors import StoreError


def is_postgres(url: str | Path) -> bool:
    """Whether ``url`` names a PostgreSQL ledger."""
    return isinstance(url, str) and url.startswith(("postgresql://", "postgres://"))


def store_target(url: str | Path) -> Path | str:
    """The SQLite file (or ``":memory:"``) a path or URL names; StoreError for other URLs
    (a PostgreSQL URL included: ask ``is_postgres`` first)."""
    text = str(url)
    if is_postgres(text):
        raise StoreError(f"{redacted_url(text)} is a PostgreSQL ledger, not a ledger file")
    if text.startswith(("postgresql:/", "postgres:/")):  # e.g. a URL passed through Path()
        raise StoreError(f"malformed PostgreSQL URL {redacted_url(text)!r}: use postgresql://…")
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif text.startswith("sqlite://"):
        raise StoreError(f"malformed SQLite URL {url!r}: use sqlite:///path/to/ledger.db")
    elif "://" in text:
        raise StoreError(
            f"unsupported database URL {url!r}: use a path, sqlite:/// or postgresql://"
        )
    return Path(text).expanduser() if text != ":memory:" else text


def redacted_url(url: str) -> str:
    """A database URL without its password."""
    import re

    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1@", url)

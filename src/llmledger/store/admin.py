"""What ``llmledger db`` does to a ledger given by URL, whatever its backend: apply its
migrations, copy it into another ledger, check a PostgreSQL one (SQLite files have
store/health.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from llmledger.store import open_store
from llmledger.store.health import Health
from llmledger.store.location import is_postgres, store_target
from llmledger.store.migrations import MIGRATIONS, MIGRATIONS_TABLE
from llmledger.store.transfer import CopyResult, copy_ledger

__all__ = ["Migrated", "check", "copy", "is_postgres", "migrate"]


@dataclass(frozen=True)
class Migrated:
    location: str
    applied: list[str]  # by this run
    current: int  # migrations the ledger has now


def migrate(url: str) -> Migrated:
    """Create the ledger at ``url`` if needed and apply its pending migrations."""
    if is_postgres(url):
        return _migrate_postgres(url)
    target = store_target(url)
    before: set[str] = set()
    if not isinstance(target, str) and target.exists():
        try:
            conn = sqlite3.connect(f"{target.absolute().as_uri()}?mode=ro", uri=True)
            before = {row[0] for row in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}
            conn.close()
        except sqlite3.Error:
            before = set()  # opening below says what is wrong with the file
    store = open_store(url)
    location = store.location
    store.close()
    names = [name for name, _ in MIGRATIONS]
    return Migrated(location, [n for n in names if n not in before], len(names))


def _migrate_postgres(url: str) -> Migrated:
    from llmledger.store import postgres_errors

    try:
        import psycopg

        from llmledger.store import postgres_schema
    except ImportError:
        raise postgres_errors.missing_driver() from None
    location = postgres_errors.redacted(url)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise postgres_errors.connect_error(exc, location) from exc
    with conn:
        try:
            applied = postgres_schema.migrate(conn, location)
        except psycopg.Error as exc:
            raise (postgres_errors.explain(exc, location) or exc) from exc
    open_store(url).close()  # makes this month's and the next month's partitions
    return Migrated(location, applied, len(postgres_schema.MIGRATIONS))


def copy(
    source_url: str, target_url: str, *, progress: Callable[[int], None] | None = None
) -> CopyResult:
    """Copy the ledger at ``source_url`` into ``target_url`` (created if needed)."""
    source = open_store(source_url, create=False, readonly=True)
    try:
        target = open_store(target_url)
        try:
            return copy_ledger(source, target, progress=progress)
        finally:
            target.close()
    finally:
        source.close()


def check(url: str) -> Health:
    """``db check`` of a PostgreSQL ledger (a store/postgres_health.PostgresHealth)."""
    try:
        from llmledger.store.postgres_health import check_postgres
    except ImportError:
        from llmledger.store.postgres_errors import missing_driver

        raise missing_driver() from None
    return check_postgres(url)

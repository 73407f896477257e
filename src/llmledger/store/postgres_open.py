"""Opening a PostgreSQL ledger: the driver is an extra, so its absence is one line saying what
to install, not an ImportError."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmledger.store.postgres_errors import missing_driver

if TYPE_CHECKING:
    from llmledger.store.postgres import PostgresStore


def open_postgres(
    url: str, *, create: bool = True, readonly: bool = False, migrate: bool = True
) -> PostgresStore:
    """The PostgresStore at ``url`` (StoreError naming the extra when psycopg is missing)."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise missing_driver() from None
    from llmledger.store.postgres import PostgresStore

    return PostgresStore(url, create=create, readonly=readonly, migrate=migrate)

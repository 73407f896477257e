"""The gateway's client keys in a PostgreSQL ledger (the ``gateway_keys`` table), kept as
SHA-256 hashes only; ``PostgresKeys`` is mixed into ``PostgresStore``. The reads and the revoke
are store/keys.py's ``KeyTables``; only the insert of a new key differs."""

from __future__ import annotations

from llmledger.store.keys import _COLUMNS, KeyTables
from llmledger.store.sql import QueryConnection

__all__ = ["PostgresKeys"]


class PostgresKeys(KeyTables):
    """The key methods on a PostgreSQL ledger."""

    MARK = "%s"

    def _insert_key(self, conn: QueryConnection, values: tuple[object, ...]) -> bool:
        cursor = conn.execute(
            f"INSERT INTO gateway_keys ({_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            values,
        )
        return cursor.rowcount > 0

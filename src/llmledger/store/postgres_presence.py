"""Which gateways serve a PostgreSQL ledger: each holds a connection named after itself
(``application_name``) with a shared advisory lock on the ledger (its schema), so another
gateway can list them in ``pg_locks`` / ``pg_stat_activity``, and a gateway that dies (even
``kill -9``) drops out with its connection. No table: nothing to migrate or to clean up."""

from __future__ import annotations

from typing import Any

import psycopg

from llmledger.store import postgres_errors

__all__ = ["PRESENCE_LOCK", "Presence", "announce"]

PRESENCE_LOCK = 27756  # the advisory lock's first key ("ll"); the second is the schema's hash

_OTHERS_SQL = """
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.classid = %(lock)s::bigint::oid
  AND l.objid = (hashtext(current_schema())::bigint & 4294967295)::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.pid <> pg_backend_pid()
ORDER BY a.application_name
"""


class Presence:
    """This process's named connection, held while it serves."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self._conn = conn

    def others(self) -> list[str]:
        """The ``application_name`` of every other process announced on this ledger."""
        rows = self._conn.execute(_OTHERS_SQL, {"lock": PRESENCE_LOCK}).fetchall()
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        self._conn.close()


def announce(url: str, name: str) -> Presence:
    """Connect as ``name`` (at most 63 bytes) and announce this process on the ledger."""
    location = postgres_errors.redacted(url)
    try:
        conn = psycopg.connect(url, autocommit=True, application_name=name, connect_timeout=10)
    except psycopg.Error as exc:
        raise postgres_errors.connect_error(exc, location) from exc
    conn.execute("SELECT pg_advisory_lock_shared(%s, hashtext(current_schema()))", (PRESENCE_LOCK,))
    return Presence(conn)

"""The gateway's client keys in a PostgreSQL ledger (the ``gateway_keys`` table), kept as
SHA-256 hashes only; ``PostgresKeys`` is mixed into ``PostgresStore`` (store/keys.py is the
SQLite twin)."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import psycopg

from llmledger.bookkeeping import KeyRecord
from llmledger.errors import StoreError

__all__ = ["PostgresKeys"]

Connection = psycopg.Connection[tuple[Any, ...]]

_COLUMNS = "id, key_hash, prefix, user_id, org_id, project, name, created_at, revoked_at"


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise StoreError(f"corrupt gateway_keys row: expected an integer, got {value!r}")
    return value


def _record(row: tuple[object, ...]) -> KeyRecord:
    return KeyRecord(
        id=str(row[0]),
        key_hash=str(row[1]),
        prefix=str(row[2]),
        user_id=str(row[3]),
        org_id=None if row[4] is None else str(row[4]),
        project=None if row[5] is None else str(row[5]),
        name=None if row[6] is None else str(row[6]),
        created_at=_int(row[7]),
        revoked_at=None if row[8] is None else _int(row[8]),
    )


class PostgresKeys:
    """Create, list, find and revoke keys (the Store protocol's key methods)."""

    if TYPE_CHECKING:

        def _writing(self) -> AbstractContextManager[Connection]: ...

        def _reading(self) -> AbstractContextManager[Connection]: ...

    def add_key(self, record: KeyRecord) -> KeyRecord:
        created = record.created_at or int(time.time() * 1_000_000)
        with self._writing() as conn:
            cursor = conn.execute(
                f"INSERT INTO gateway_keys ({_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    record.id,
                    record.key_hash,
                    record.prefix,
                    record.user_id,
                    record.org_id,
                    record.project,
                    record.name,
                    created,
                    record.revoked_at,
                ),
            )
            if cursor.rowcount == 0:
                raise StoreError(f"a key with id {record.id!r} exists already")
        return KeyRecord(**{**record.__dict__, "created_at": created})

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyRecord]:
        sql = f"SELECT {_COLUMNS} FROM gateway_keys"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        sql += " ORDER BY created_at, id"
        with self._reading() as conn:
            rows = conn.execute(sql).fetchall()
        return [_record(row) for row in rows]

    def get_key(self, key_id: str) -> KeyRecord | None:
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM gateway_keys WHERE id = %s", (key_id,)
            ).fetchone()
        return None if row is None else _record(row)

    def find_key(self, key_hash: str) -> KeyRecord | None:
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM gateway_keys WHERE key_hash = %s", (key_hash,)
            ).fetchone()
        return None if row is None else _record(row)

    def revoke_key(self, key_id: str) -> bool:
        now = int(time.time() * 1_000_000)
        with self._writing() as conn:
            cursor = conn.execute(
                "UPDATE gateway_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                (now, key_id),
            )
            return cursor.rowcount > 0

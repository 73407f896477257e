"""The gateway's client keys in a SQLite ledger (the ``gateway_keys`` table), kept as SHA-256
hashes only; ``KeyTables`` serves PostgreSQL too (store/postgres_keys.py). ``SQLiteKeys`` is
mixed into ``SQLiteStore``: its key methods run on the store's
connection, under its lock and transactions (the store stays the one owner of the database).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import msgspec

from llmledger.bookkeeping import KeyRecord
from llmledger.errors import StoreError
from llmledger.store.sql import QueryConnection

__all__ = ["KeyTables", "SQLiteKeys"]

_COLUMNS = "id, key_hash, prefix, user_id, org_id, project, name, created_at, revoked_at"


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise StoreError(f"corrupt gateway_keys row: expected an integer, got {value!r}")
    return value


def _record(row: Sequence[object]) -> KeyRecord:
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


def _values(record: KeyRecord, created: int) -> tuple[object, ...]:
    return (
        record.id,
        record.key_hash,
        record.prefix,
        record.user_id,
        record.org_id,
        record.project,
        record.name,
        created,
        record.revoked_at,
    )


class KeyTables:
    """Create, list, find and revoke keys (the Store protocol's key methods), for either
    backend: a subclass names its driver's placeholder and inserts a new key row its way."""

    MARK = "?"

    if TYPE_CHECKING:

        def _writing(self) -> AbstractContextManager[QueryConnection]: ...

        def _reading(self) -> AbstractContextManager[QueryConnection]: ...

    def _insert_key(self, conn: QueryConnection, values: tuple[object, ...]) -> bool:
        """Insert a ``gateway_keys`` row; False when its id is taken."""
        raise NotImplementedError

    def add_key(self, record: KeyRecord) -> KeyRecord:
        created = record.created_at or int(time.time() * 1_000_000)
        with self._writing() as conn:
            if not self._insert_key(conn, _values(record, created)):
                raise StoreError(f"a key with id {record.id!r} exists already")
        return msgspec.structs.replace(record, created_at=created)

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyRecord]:
        sql = f"SELECT {_COLUMNS} FROM gateway_keys"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        sql += " ORDER BY created_at, id"
        with self._reading() as conn:
            rows = conn.execute(sql).fetchall()
        return [_record(row) for row in rows]

    def get_key(self, key_id: str) -> KeyRecord | None:
        return self._one_key("id", key_id)

    def find_key(self, key_hash: str) -> KeyRecord | None:
        return self._one_key("key_hash", key_hash)

    def _one_key(self, column: str, value: str) -> KeyRecord | None:
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM gateway_keys WHERE {column} = {self.MARK}", (value,)
            ).fetchone()
        return None if row is None else _record(row)

    def revoke_key(self, key_id: str) -> bool:
        now = int(time.time() * 1_000_000)
        with self._writing() as conn:
            cursor = conn.execute(
                f"UPDATE gateway_keys SET revoked_at = {self.MARK} "
                f"WHERE id = {self.MARK} AND revoked_at IS NULL",
                (now, key_id),
            )
            return cursor.rowcount > 0


class SQLiteKeys(KeyTables):
    """The key methods on a SQLite ledger."""

    def _insert_key(self, conn: QueryConnection, values: tuple[object, ...]) -> bool:
        try:
            conn.execute(
                f"INSERT INTO gateway_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        except sqlite3.IntegrityError:
            return False
        return True

"""The ``rate_windows`` table of a PostgreSQL ledger (migration 0006_rate_windows), with the
semantics of SQLite's (store/rate_windows.py): a reading seen twice is kept once."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import psycopg

from llmledger.rate_windows import RateWindow
from llmledger.store.rate_windows import _reading, _row

__all__ = ["PostgresRateWindows"]

Connection = psycopg.Connection[tuple[Any, ...]]
_COLUMNS = (
    'source, limit_id, "window", observed_us, used_percent, window_minutes, resets_at_us, '
    "plan, session_id"
)


class PostgresRateWindows:
    if TYPE_CHECKING:

        def _writing(self) -> AbstractContextManager[Connection]: ...

        def _reading(self) -> AbstractContextManager[Connection]: ...

    def record_rate_windows(self, readings: Iterable[RateWindow]) -> int:
        rows = [_row(reading) for reading in readings]
        if not rows:
            return 0
        written = 0
        with self._writing() as conn, conn.cursor() as cur:
            for row in rows:
                cur.execute(
                    f"INSERT INTO rate_windows ({_COLUMNS}) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    row,
                )
                written += cur.rowcount
        return written

    def rate_windows(
        self, *, since_us: int | None = None, source: str | None = None
    ) -> list[RateWindow]:
        clauses: list[str] = []
        params: list[object] = []
        if since_us is not None:
            clauses.append("observed_us >= %s")
            params.append(since_us)
        if source is not None:
            clauses.append("source = %s")
            params.append(source)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        sql = (
            f'SELECT {_COLUMNS} FROM rate_windows{where} ORDER BY observed_us, "window" COLLATE "C"'
        )
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_reading(tuple(row)) for row in rows]

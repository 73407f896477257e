"""The ``rate_windows`` table of a SQLite ledger (migration 0006_rate_windows): readings of the
agents' official usage-limit windows (rate_windows.py). ``SQLiteRateWindows`` is mixed into
``SQLiteStore``: its methods run on the store's connection, under its lock and transactions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from llmledger.errors import StoreError
from llmledger.rate_windows import RateWindow

__all__ = ["SQLiteRateWindows"]

_COLUMNS = (
    "source, limit_id, window, observed_us, used_percent, window_minutes, resets_at_us, plan,"
    " session_id"
)


def _row(reading: RateWindow) -> tuple[object, ...]:
    return (
        reading.source,
        reading.limit_id,
        reading.window,
        reading.observed_us,
        float(reading.used_percent),
        reading.window_minutes,
        reading.resets_at_us,
        reading.plan,
        reading.session_id,
    )


def _reading(row: tuple[object, ...]) -> RateWindow:
    source, limit_id, window, observed, used, minutes, resets, plan, session = row
    if not isinstance(observed, int) or not isinstance(used, (int, float)):
        raise StoreError(f"corrupt rate_windows row: {row!r}")
    return RateWindow(
        source=str(source),
        window=str(window),
        observed_us=observed,
        used_percent=float(used),
        window_minutes=minutes if isinstance(minutes, int) else None,
        resets_at_us=resets if isinstance(resets, int) else None,
        limit_id=str(limit_id or ""),
        plan=None if plan is None else str(plan),
        session_id=None if session is None else str(session),
    )


class SQLiteRateWindows:
    if TYPE_CHECKING:

        def _writing(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _reading(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def record_rate_windows(self, readings: Iterable[RateWindow]) -> int:
        rows = [_row(reading) for reading in readings]
        if not rows:
            return 0
        with self._writing() as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO rate_windows ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows
            )
            return conn.total_changes - before

    def rate_windows(
        self, *, since_us: int | None = None, source: str | None = None
    ) -> list[RateWindow]:
        clauses, params = _where(since_us, source)
        sql = f"SELECT {_COLUMNS} FROM rate_windows{clauses} ORDER BY observed_us, window"
        with self._reading() as conn:
            return [_reading(tuple(row)) for row in conn.execute(sql, params)]


def _where(since_us: int | None, source: str | None) -> tuple[str, list[object]]:
    parts: list[str] = []
    params: list[object] = []
    for clause, value in _conditions(since_us, source):
        parts.append(clause)
        params.append(value)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def _conditions(since_us: int | None, source: str | None) -> Iterator[tuple[str, object]]:
    if since_us is not None:
        yield "observed_us >= ?", since_us
    if source is not None:
        yield "source = ?", source

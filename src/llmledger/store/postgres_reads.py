"""Reading a PostgreSQL ledger: counts, sums per group (from an hourly rollup, by user too,
when one answers exactly, else from the events), and the events themselves. ``PostgresReads``
is mixed into ``PostgresStore``; the SQL is the SQLite store's (store/sql.py, store/rollup.py),
put in PostgreSQL's terms by ``pg``. Groups come back in SQLite's order, so outputs are the same."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import psycopg

from llmledger.events import UsageEvent
from llmledger.query import DaySegments, EventFilter, GroupRow
from llmledger.store import rollup
from llmledger.store.postgres_write import COLUMNS_SQL
from llmledger.store.read_sql import events_group_sql, time_span_sql, unpriced_models_sql
from llmledger.store.sql import EVENT_TOTALS, totals_from_row, totals_sql, where_sql
from llmledger.store.sqlite import event_from_row

__all__ = ["TOTALS_SQL", "PostgresReads", "pg"]

Connection = psycopg.Connection[tuple[Any, ...]]

# The events totals in PostgreSQL's dialect (``success`` is a SMALLINT there, as in SQLite).
_BYTEWISE = ' COLLATE "C"'
TOTALS_SQL = totals_sql({**EVENT_TOTALS, "failed": "SUM(1 - success)"})


def pg(sql: str) -> str:
    """SQL written for SQLite, in PostgreSQL's terms: psycopg's ``%s`` placeholders for
    ``?``, and each ``SUM(…)`` cast back to BIGINT (PostgreSQL sums BIGINTs as NUMERIC, which
    psycopg reads as Decimal: exact, but slow to turn into ints by the hundred thousand)."""
    parts: list[str] = []
    rest = sql.replace("?", "%s")
    while (start := rest.find("SUM(")) >= 0:
        depth, end = 0, start + 3
        for end in range(start + 3, len(rest)):
            depth += {"(": 1, ")": -1}.get(rest[end], 0)
            if depth == 0:
                break
        parts.append(rest[: end + 1] + "::BIGINT")
        rest = rest[end + 1 :]
    return "".join(parts) + rest


class PostgresReads:
    """The Store protocol's reads."""

    if TYPE_CHECKING:

        def _reading(self) -> AbstractContextManager[Connection]: ...

    def count(self, flt: EventFilter | None = None) -> int:
        flt = flt or EventFilter()
        table = rollup.table(flt, [], None, users=True)
        if table is not None:
            where, params = rollup.where_sql(flt)
            sql = f"SELECT COALESCE(SUM(events), 0) FROM {table}{where}"
        else:
            where, params = where_sql(flt)
            sql = f"SELECT COUNT(*) FROM events{where}"
        with self._reading() as conn:
            row = conn.execute(pg(sql), params).fetchone()
        return int(row[0]) if row else 0

    def time_span(self, flt: EventFilter | None = None) -> tuple[int, int] | None:
        sql, params = time_span_sql(flt or EventFilter(), users=True)
        with self._reading() as conn:
            row = conn.execute(pg(sql), params).fetchone()
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))

    def aggregate(
        self, flt: EventFilter, dims: Sequence[str], segments: DaySegments | None = None
    ) -> list[GroupRow]:
        if rollup.usable(flt, dims, segments, users=True):
            sql, params = rollup.aggregate_sql(flt, dims, segments, users=True)
            return self._grouped(sql, params, dims)
        sql, params = events_group_sql(flt, dims, segments, TOTALS_SQL)
        return self._grouped(sql, params, dims)

    def _grouped(self, sql: str, params: list[Any], dims: Sequence[str]) -> list[GroupRow]:
        if dims:  # SQLite's GROUP BY order: NULL first, then by value (text by code point)
            names = [f"g{k}" for k in range(len(dims))]
            order = (
                f"{name}{'' if dim == 'day' else _BYTEWISE} NULLS FIRST"
                for name, dim in zip(names, dims)
            )
            sql = (
                f"SELECT * FROM ({sql}) AS grouped({', '.join(names)}) ORDER BY {', '.join(order)}"
            )
        with self._reading() as conn:
            rows = conn.execute(pg(sql), params).fetchall()
        width = len(dims)
        result = []
        for row in rows:
            values = [int(v) if dim == "day" else v for dim, v in zip(dims, row[:width])]
            totals = totals_from_row(row[width:])
            if totals.events:
                result.append(GroupRow(dict(zip(dims, values)), totals))
        return result

    def unpriced_models(self, flt: EventFilter) -> list[str]:
        sql, params = unpriced_models_sql(flt, users=True)
        with self._reading() as conn:
            rows = conn.execute(pg(sql), params).fetchall()
        return sorted(str(row[0]) for row in rows)

    def iter_events(
        self, flt: EventFilter | None = None, chunk: int = 5_000
    ) -> Iterator[UsageEvent]:
        """Matching events ordered by time, then id (by code point, as SQLite orders), read
        with a server-side cursor in chunks (bounded memory)."""
        where, params = where_sql(flt or EventFilter())
        sql = pg(f'SELECT {COLUMNS_SQL} FROM events{where} ORDER BY ts, id COLLATE "C"')
        with (
            self._reading() as conn,
            conn.transaction(),
            conn.cursor(name="llmledger_events") as cursor,
        ):
            cursor.itersize = chunk
            cursor.execute(sql, params)
            for row in cursor:
                yield event_from_row(row)

    def get_event(self, event_id: str) -> UsageEvent | None:
        sql = (
            f"SELECT {COLUMNS_SQL} FROM events WHERE id = %(id)s "
            "AND ts = (SELECT ts FROM event_ids WHERE id = %(id)s)"
        )
        with self._reading() as conn:
            row = conn.execute(sql, {"id": event_id}).fetchone()
        return None if row is None else event_from_row(row)

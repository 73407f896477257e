"""SQL shared by the SQL stores: the totals select list, the WHERE clause of an ``EventFilter``,
a time zone's local day number of a timestamp column, and the connection both drivers are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from llmledger.query import FILTER_COLUMNS, US_PER_DAY, DaySegments, EventFilter, Totals


class Rows(Protocol):
    """A cursor after ``execute``, sqlite3's or psycopg's."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Sequence[Any] | None: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...


class QueryConnection(Protocol):
    """What code serving both stores needs of a connection: sqlite3's and psycopg's both fit
    (their placeholders differ: ``?`` and ``%s``)."""

    def execute(self, sql: str, params: Sequence[object] = (), /) -> Rows: ...


# Each Totals field and the SQL that sums it over events rows; the rollup has its own (rollup.py).
EVENT_TOTALS: dict[str, str] = {
    "input_tokens": "SUM(input_tokens)",
    "cache_read_tokens": "SUM(cache_read_tokens)",
    "cache_write_tokens": "SUM(cache_write_tokens)",
    "cache_write_1h_tokens": "SUM(cache_write_1h_tokens)",
    "output_tokens": "SUM(output_tokens)",
    "reasoning_tokens": "SUM(reasoning_tokens)",
    "cost_nanos": "SUM(COALESCE(cost_nanos, 0))",
    "requests": "SUM(requests)",
    "events": "COUNT(*)",
    "unpriced": "SUM(CASE WHEN cost_status = 'unpriced' THEN 1 ELSE 0 END)",
    "estimated": "SUM(estimated)",
    "failed": "SUM(CASE WHEN success THEN 0 ELSE 1 END)",
    "first_ts": "MIN(ts)",
    "last_ts": "MAX(ts)",
}
# Totals' fields in their order: the counts, then the first and last timestamps.
TOTALS_FIELDS: tuple[str, ...] = Totals.__struct_fields__
_COUNTS = len(TOTALS_FIELDS) - 2
assert TOTALS_FIELDS[_COUNTS:] == ("first_ts", "last_ts")


def totals_sql(expressions: dict[str, str]) -> str:
    """A select list summing every Totals field, in ``totals_from_row``'s order."""
    return ", ".join(expressions[name] for name in TOTALS_FIELDS)


TOTALS_SQL = totals_sql(EVENT_TOTALS)


def totals_from_row(values: Sequence[Any]) -> Totals:
    """Totals from the values of a ``totals_sql`` select list (SUMs of no rows are NULL)."""
    n = [int(v or 0) for v in values[:_COUNTS]]
    return Totals(
        input_tokens=n[0],
        cache_read_tokens=n[1],
        cache_write_tokens=n[2],
        cache_write_1h_tokens=n[3],
        output_tokens=n[4],
        reasoning_tokens=n[5],
        cost_nanos=n[6],
        requests=n[7],
        events=n[8],
        unpriced=n[9],
        estimated=n[10],
        failed=n[11],
        first_ts=values[_COUNTS],
        last_ts=values[_COUNTS + 1],
    )


def day_sql(segments: DaySegments, column: str = "ts") -> tuple[str, list[int]]:
    """SQL for the local day number of ``column`` (UTC microseconds) and its parameters."""
    if len(segments.offsets) == 1:
        return f"(({column} + ?) / ?)", [segments.offsets[0], US_PER_DAY]
    parts = ["CASE"]
    params: list[int] = []
    for bound, offset in zip(segments.bounds, segments.offsets):
        parts.append(f"WHEN {column} < ? THEN (({column} + ?) / ?)")
        params += [bound, offset, US_PER_DAY]
    parts.append(f"ELSE (({column} + ?) / ?) END")
    params += [segments.offsets[-1], US_PER_DAY]
    return " ".join(parts), params


def where_sql(flt: EventFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if flt.since_us is not None:
        clauses.append("ts >= ?")
        params.append(flt.since_us)
    if flt.until_us is not None:
        clauses.append("ts < ?")
        params.append(flt.until_us)
    for column, values in sorted(flt.equals.items()):
        if column not in FILTER_COLUMNS:
            raise ValueError(f"cannot filter on {column!r}")
        if values:
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

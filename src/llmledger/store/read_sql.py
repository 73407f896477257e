"""The SELECTs of ``time_span``, ``aggregate`` and ``unpriced_models``, shared by the SQLite
and PostgreSQL stores: the hourly rollup where it answers the question, else the events.
Written with SQLite's ``?`` placeholders (store/postgres_reads.py's ``pg`` turns them into
PostgreSQL's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmledger.query import DIMENSIONS, DaySegments, EventFilter
from llmledger.store import rollup
from llmledger.store.sql import day_sql, where_sql

__all__ = ["events_group_sql", "time_span_sql", "unpriced_models_sql"]


def time_span_sql(flt: EventFilter, *, users: bool = False) -> tuple[str, list[Any]]:
    """The first and last timestamps of the matching events (NULLs when none match);
    ``users``: the ledger keeps the users' rollup (store/rollup.py)."""
    table = rollup.table(flt, [], None, users=users)
    if table is not None:
        where, params = rollup.where_sql(flt)
        sql = f"SELECT MIN(min_ts), MAX(max_ts) FROM {table}{where} AND events > 0"
        return (sql if where else sql.replace(" AND ", " WHERE ", 1)), params
    where, params = where_sql(flt)
    return f"SELECT MIN(ts), MAX(ts) FROM events{where}", params


def events_group_sql(
    flt: EventFilter, dims: Sequence[str], segments: DaySegments | None, totals: str
) -> tuple[str, list[Any]]:
    """The events grouped by ``dims`` (keys of DIMENSIONS, or ``day``: the local day number of
    each event in ``segments``), each group's values then ``totals`` (the dialect's select
    list of the Totals fields)."""
    select: list[str] = []
    params: list[Any] = []
    for dim in dims:
        if dim == "day":
            if segments is None:
                raise ValueError("grouping by day needs the time zone's day segments")
            expr, expr_params = day_sql(segments)
            select.append(expr)
            params += expr_params
        elif dim in DIMENSIONS:
            select.append(DIMENSIONS[dim])
        else:
            raise ValueError(f"unknown dimension {dim!r}")
    where, where_params = where_sql(flt)
    sql = f"SELECT {', '.join([*select, totals])} FROM events{where}"
    if dims:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(dims)))
    return sql, params + where_params


def unpriced_models_sql(flt: EventFilter, *, users: bool = False) -> tuple[str, list[Any]]:
    """The distinct models of the matching events that have no price."""
    table = rollup.table(flt, [], None, users=users) or "events"
    where, params = rollup.where_sql(flt) if table != "events" else where_sql(flt)
    joiner = " AND " if where else " WHERE "
    sql = f"SELECT DISTINCT model FROM {table}{where}{joiner}cost_status = 'unpriced'"
    if table != "events":
        sql += " AND events > 0"
    return sql, params

"""Hourly rollup of the events table: what keeps reports fast on millions of events.

``rollup_hourly`` holds sums per (UTC hour, model, source, provider, cost status). Reports that
group and filter only by those dimensions, in a time zone whose offsets are whole hours, read the
rollup (a few rows per hour) instead of every event. Anything else reads the events.

A PostgreSQL ledger also keeps ``rollup_hourly_users``: the same sums per user and organization
too (``''`` for none), for the reports a team asks most (``daily --group-by user``, ``--user``):
a row per user and hour rather than per event. Its server sums each batch in C; in SQLite the
per-user split cost ~30 % of ingest, so SQLite reads those reports from the events.

The store keeps it exact in the same transaction as the events: each written batch is summed
per key in Python (one C-level sum per column and group of rows) and added, a replaced copy of a
stored id is subtracted, and a cost update moves its event from the old sums to the new.
``min_ts``/``max_ts`` only grow, so after a replacement they may be wider than the events they
cover (they feed only "last activity").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmledger.errors import InvalidEventError
from llmledger.events import MAX_TOKENS
from llmledger.query import DIMENSIONS, DaySegments, EventFilter
from llmledger.store.rows import AT, ESTIMATED_BIT, FAILED_BIT, HOUR_US, GroupKey, position, width
from llmledger.store.sql import day_sql

# What one write may add to one rollup row (an hour of a model): ten events at the largest
# count each. Far beyond real usage; far below SQLite's 64 bits for any real number of writes.
HOUR_LIMIT = 10 * MAX_TOKENS

ROLLUP_DIMENSIONS: dict[str, str] = {
    "model": "model",
    "source": "source",
    "provider": "provider",
    "cost_status": "cost_status",
}
ROLLUP_FILTERS = frozenset({"model", "source"})
USERS_TABLE = "rollup_hourly_users"
USERS_DIMENSIONS: dict[str, str] = {**ROLLUP_DIMENSIONS, "user": "user_id", "org": "org_id"}
USERS_FILTERS = ROLLUP_FILTERS | {"user_id", "org_id"}

ROLLUP_SUMS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "requests",
    "events",
    "estimated",
    "failed",
)

CREATE_SQL = f"""
CREATE TABLE rollup_hourly (
    hour INTEGER NOT NULL,
    model TEXT NOT NULL,
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    cost_status TEXT NOT NULL,
    {", ".join(f"{name} INTEGER NOT NULL" for name in ROLLUP_SUMS)},
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    PRIMARY KEY (hour, model, source, provider, cost_status)
) WITHOUT ROWID
"""

# PostgreSQL's rollup per user and organization too ('' stands for NULL), with the same sums
# (store/postgres_schema.py 0010, kept by store/postgres_write.py).
USERS_KEY = ("hour", "user_id", "org_id", "model", "source", "provider", "cost_status")

# Sums of events rows, in ROLLUP_SUMS order; provider '' stands for NULL (a key cannot hold NULL).
_EVENT_SUMS = (
    "SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), "
    "SUM(cache_write_1h_tokens), SUM(output_tokens), SUM(reasoning_tokens), "
    "SUM(COALESCE(cost_nanos, 0)), SUM(requests), COUNT(*), SUM(estimated), "
    "SUM(1 - success), MIN(ts), MAX(ts)"
)
_KEY_OF_EVENT = f"ts / {HOUR_US}, model, source, COALESCE(provider, ''), cost_status"
_COLUMNS = f"hour, model, source, provider, cost_status, {', '.join(ROLLUP_SUMS)}, min_ts, max_ts"
_ON_CONFLICT = (
    " ON CONFLICT (hour, model, source, provider, cost_status) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in ROLLUP_SUMS)
    + ", min_ts = MIN(min_ts, excluded.min_ts), max_ts = MAX(max_ts, excluded.max_ts)"
)

ADD_ROW_SQL = (
    f"INSERT INTO rollup_hourly ({_COLUMNS}) VALUES ({', '.join('?' * (len(ROLLUP_SUMS) + 7))})"
    + _ON_CONFLICT
)
REBUILD_SQL = (
    "DELETE FROM rollup_hourly",
    f"INSERT INTO rollup_hourly ({_COLUMNS}) "
    f"SELECT {_KEY_OF_EVENT}, {_EVENT_SUMS} FROM events GROUP BY 1, 2, 3, 4, 5",
)
# What a stored row contributes, to subtract it when a larger copy replaces it.
OLD_ROW_SQL = (
    f"SELECT {_KEY_OF_EVENT}, input_tokens, cache_read_tokens, cache_write_tokens, "
    "cache_write_1h_tokens, output_tokens, reasoning_tokens, COALESCE(cost_nanos, 0), requests, "
    "1, estimated, 1 - success, ts, ts FROM events WHERE id = ?"
)


def row_contribution(values: Sequence[Any], sign: int) -> tuple[Any, ...]:
    """Parameters for ADD_ROW_SQL from an OLD_ROW_SQL-shaped tuple, negated when sign < 0."""
    key = tuple(values[:5])
    sums = tuple(sign * int(v) for v in values[5 : 5 + len(ROLLUP_SUMS)])
    return (*key, *sums, values[-2], values[-1])


def batch_sums(groups: Mapping[GroupKey, Sequence[Any]]) -> list[tuple[Any, ...]]:
    """ADD_ROW_SQL parameters summing grouped rows (see ``rows.Rows``) per rollup key.

    Each column is summed over a group's flat values with one C-level slice and sum; a column
    the mask leaves out is at its default in every row of the group (0, or 1 for requests).
    """
    acc: dict[tuple[Any, ...], list[int]] = {}
    for group, flat in groups.items():
        mask = group.mask
        n = width(mask)
        count = len(flat) // n
        if not count:
            continue
        cw1 = position(mask, "cache_write_1h_tokens")
        reasoning = position(mask, "reasoning_tokens")
        cost = position(mask, "cost_nanos")
        requests = position(mask, "requests")
        ts = flat[AT["ts"] :: n]
        sums = [
            sum(flat[AT["input_tokens"] :: n]),
            sum(flat[AT["cache_read_tokens"] :: n]),
            sum(flat[AT["cache_write_tokens"] :: n]),
            0 if cw1 is None else sum(flat[cw1::n]),
            sum(flat[AT["output_tokens"] :: n]),
            0 if reasoning is None else sum(flat[reasoning::n]),
            0 if cost is None else sum(flat[cost::n]),
            count if requests is None else sum(flat[requests::n]),
            count,
            count if mask & ESTIMATED_BIT else 0,
            count if mask & FAILED_BIT else 0,
            min(ts),
            max(ts),
        ]
        key = group.rollup_key
        a = acc.get(key)
        if a is None:
            acc[key] = sums
            continue
        for k in range(11):
            a[k] += sums[k]
        a[11] = min(a[11], sums[11])
        a[12] = max(a[12], sums[12])
    for (_, model, *_), sums in acc.items():
        # Checked per hour of a model (not per event: cheaper), before SQLite sums it in.
        if sums[0] + sums[1] + sums[2] + sums[3] + sums[4] > HOUR_LIMIT or sums[7] > HOUR_LIMIT:
            raise InvalidEventError(
                f"{model}: one hour holds more than {HOUR_LIMIT:,} tokens or requests, "
                "beyond any real usage"
            )
    return [(*key, *sums) for key, sums in acc.items()]


# Totals over rollup rows, in the order query.totals_from_row expects.
TOTALS_SQL = (
    "SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), "
    "SUM(cache_write_1h_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost_nanos), "
    "SUM(requests), SUM(events), "
    "SUM(CASE WHEN cost_status = 'unpriced' THEN events ELSE 0 END), SUM(estimated), "
    "SUM(failed), MIN(min_ts), MAX(max_ts)"
)


def _aligned(value: int | None) -> bool:
    return value is None or value % HOUR_US == 0


def table(
    flt: EventFilter,
    dims: Sequence[str],
    segments: DaySegments | None,
    *,
    users: bool = False,
) -> str | None:
    """The rollup that answers this query exactly, the smaller one first (None: neither);
    ``users``: the ledger keeps the users' rollup (PostgreSQL)."""
    if not (_aligned(flt.since_us) and _aligned(flt.until_us)):
        return None
    filters = {column for column, values in flt.equals.items() if values}
    if any("" in values for values in flt.equals.values()):
        return None  # '' stands for "none" in the users' rollup; no event has it
    named = set()
    for dim in dims:
        if dim == "day":
            if segments is None:
                return None
            if not all(_aligned(v) for v in (*segments.bounds, *segments.offsets)):
                return None
        else:
            named.add(dim)
    if filters <= ROLLUP_FILTERS and named <= set(ROLLUP_DIMENSIONS):
        return "rollup_hourly"
    if users and filters <= USERS_FILTERS and named <= set(USERS_DIMENSIONS):
        return USERS_TABLE
    return None


def usable(
    flt: EventFilter, dims: Sequence[str], segments: DaySegments | None, *, users: bool = False
) -> bool:
    """Whether a rollup answers this query exactly."""
    return table(flt, dims, segments, users=users) is not None


def where_sql(flt: EventFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if flt.since_us is not None:
        clauses.append("hour >= ?")
        params.append(flt.since_us // HOUR_US)
    if flt.until_us is not None:
        clauses.append("hour < ?")
        params.append(flt.until_us // HOUR_US)
    for column, values in sorted(flt.equals.items()):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def aggregate_sql(
    flt: EventFilter, dims: Sequence[str], segments: DaySegments | None, *, users: bool = False
) -> tuple[str, list[Any]]:
    """Sums per group from the rollup ``table`` picks (the caller checked ``usable``)."""
    source = table(flt, dims, segments, users=users)
    assert source is not None
    select: list[str] = []
    params: list[Any] = []
    for dim in dims:
        if dim == "day":
            assert segments is not None
            expr, expr_params = day_sql(segments, column=f"(hour * {HOUR_US})")
            select.append(expr)
            params += expr_params
        elif dim in ("provider", "user", "org"):
            select.append(f"NULLIF({USERS_DIMENSIONS[dim]}, '')")  # '' stands for NULL
        else:
            select.append(ROLLUP_DIMENSIONS[dim])
    where, where_params = where_sql(flt)
    sql = f"SELECT {', '.join([*select, TOTALS_SQL])} FROM {source}{where}"
    if dims:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(dims)))
    return sql, params + where_params


assert set(USERS_DIMENSIONS) <= set(DIMENSIONS)

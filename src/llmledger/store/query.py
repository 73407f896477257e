"""What a report asks of a store: filters, group-by dimensions, and summed rows.

Stores speak in UTC microseconds; turning local calendar days into UTC bounds and day numbers
is the report layer's job (it passes ``DaySegments`` describing the time zone's offsets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmledger.events import TokenSums

# Dimensions a report may group by, and the column each reads.
DIMENSIONS: dict[str, str] = {
    "model": "model",
    "source": "source",
    "provider": "provider",
    "user": "user_id",
    "org": "org_id",
    "account": "account",
    "api_key": "api_key_id",
    "session": "session_id",
    "project": "project",
    "request_type": "request_type",
    "cost_status": "cost_status",
}

# Filters by column; each holds the accepted values (OR within a filter, AND across filters).
FILTER_COLUMNS: tuple[str, ...] = (
    "source",
    "model",
    "user_id",
    "org_id",
    "account",
    "project",
    "session_id",
    "api_key_id",
)

US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class EventFilter:
    since_us: int | None = None  # inclusive
    until_us: int | None = None  # exclusive
    equals: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class DaySegments:
    """A time zone's UTC offsets over a span: ``offsets[i]`` applies before ``bounds[i]``
    (the last offset applies from the last bound on). All values are microseconds."""

    bounds: tuple[int, ...]
    offsets: tuple[int, ...]

    def day_number(self, ts_us: int) -> int:
        for bound, offset in zip(self.bounds, self.offsets):
            if ts_us < bound:
                return (ts_us + offset) // US_PER_DAY
        return (ts_us + self.offsets[-1]) // US_PER_DAY


@dataclass
class Totals(TokenSums):
    """Summed counts of a group of events."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_nanos: int = 0
    requests: int = 0
    events: int = 0
    unpriced: int = 0
    estimated: int = 0
    failed: int = 0
    first_ts: int | None = None
    last_ts: int | None = None

    def copy(self) -> Totals:
        return Totals(
            self.input_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.cache_write_1h_tokens,
            self.output_tokens,
            self.reasoning_tokens,
            self.cost_nanos,
            self.requests,
            self.events,
            self.unpriced,
            self.estimated,
            self.failed,
            self.first_ts,
            self.last_ts,
        )

    def add(self, other: Totals) -> None:
        self.input_tokens += other.input_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cache_write_1h_tokens += other.cache_write_1h_tokens
        self.output_tokens += other.output_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost_nanos += other.cost_nanos
        self.requests += other.requests
        self.events += other.events
        self.unpriced += other.unpriced
        self.estimated += other.estimated
        self.failed += other.failed
        if other.first_ts is not None:
            self.first_ts = (
                other.first_ts if self.first_ts is None else min(self.first_ts, other.first_ts)
            )
        if other.last_ts is not None:
            self.last_ts = (
                other.last_ts if self.last_ts is None else max(self.last_ts, other.last_ts)
            )


@dataclass
class GroupRow:
    """One group: its key (``day`` as a day number since 1970-01-01 when grouped by day)."""

    key: dict[str, Any]
    totals: Totals


# SQL select list producing Totals fields, in this order; shared by the SQL stores.
TOTALS_SQL = (
    "SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens), "
    "SUM(cache_write_1h_tokens), SUM(output_tokens), SUM(reasoning_tokens), "
    "SUM(COALESCE(cost_nanos, 0)), SUM(requests), COUNT(*), "
    "SUM(CASE WHEN cost_status = 'unpriced' THEN 1 ELSE 0 END), SUM(estimated), "
    "SUM(CASE WHEN success THEN 0 ELSE 1 END), MIN(ts), MAX(ts)"
)


def totals_from_row(values: tuple[Any, ...]) -> Totals:
    n = [int(v or 0) for v in values[:12]]
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
        first_ts=values[12],
        last_ts=values[13],
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

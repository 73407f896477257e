"""What a report asks of a store and gets back: filters, group-by dimensions, summed rows.

Every Store speaks these types (store/base.py); reports, the CLI and the gateway read them
through the Ledger. Stores speak in UTC microseconds; turning local calendar days into UTC
bounds and day numbers is the report layer's job (it passes ``DaySegments`` describing the time
zone's offsets).
"""

from __future__ import annotations

from typing import Any

import msgspec

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
    "host": "host",
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
    "host",
)

US_PER_DAY = 86_400_000_000


# msgspec Structs, not dataclasses: every run loads this module, and a dataclass costs ~3.5 M
# instructions to create at import (a Struct ~0.1 M).
class EventFilter(msgspec.Struct, frozen=True):
    since_us: int | None = None  # inclusive
    until_us: int | None = None  # exclusive
    equals: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)


class DaySegments(msgspec.Struct, frozen=True):
    """A time zone's UTC offsets over a span: ``offsets[i]`` applies before ``bounds[i]``
    (the last offset applies from the last bound on). All values are microseconds."""

    bounds: tuple[int, ...]
    offsets: tuple[int, ...]

    def day_number(self, ts_us: int) -> int:
        for bound, offset in zip(self.bounds, self.offsets):
            if ts_us < bound:
                return (ts_us + offset) // US_PER_DAY
        return (ts_us + self.offsets[-1]) // US_PER_DAY


class Totals(msgspec.Struct, TokenSums):
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


class GroupRow(msgspec.Struct):
    """One group: its key (``day`` as a day number since 1970-01-01 when grouped by day)."""

    key: dict[str, Any]
    totals: Totals

"""Turning UsageEvents into SQL rows, fast: the ingest hot path.

Binding parameters is most of what an insert costs in Python's sqlite3, and most events leave
most attribution fields empty. So a row binds only the columns its event has: the always-present
ones, then each optional column whose value differs from the column's default, in a fixed order.
A row's column mask says which optional columns are there; rows with the same mask share a
statement.

Columns that are the same for a whole group of rows (source, model, cost status, provider, price
version, and the estimated/failed flags, whose value the mask implies) are not in the rows at
all: a statement binds them once, as numbered parameters every row of its VALUES list reuses.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

import msgspec

from llmledger.events import ATTRIBUTION_FIELDS, MAX_TOKENS, UsageEvent

# Bound per row, in this order, then the optional columns of the row's mask (below).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "id",
    "ts",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
)
# Left out of a row when equal to the column default (NULL, 0, or 1 for requests/success).
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "provider",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "price_version",
    "estimated",
    "requests",
    *ATTRIBUTION_FIELDS,  # user_id, org_id, account, api_key_id, session_id, project, type,
    # host
    "tags",
    "latency_ms",
    "success",
    "status",
    "details",
)

HOUR_US = 3_600_000_000
# Each optional column's bit in a row's mask, from its place in OPTIONAL_COLUMNS.
BIT: dict[str, int] = {name: 1 << index for index, name in enumerate(OPTIONAL_COLUMNS)}
PROVIDER_BIT = BIT["provider"]
PRICE_VERSION_BIT = BIT["price_version"]
ESTIMATED_BIT = BIT["estimated"]
FAILED_BIT = BIT["success"]  # success is bound (as 0) only when false
# Where each required column sits in a row's values.
AT: dict[str, int] = {name: index for index, name in enumerate(REQUIRED_COLUMNS)}
# Optional columns a group key fixes: bound once per statement, never stored in a row.
_GROUP_CONSTANT = frozenset({"provider", "price_version", "estimated", "success"})
_json_encode = msgspec.json.Encoder().encode
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_US = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Integer microseconds since the epoch for an aware datetime (exact, no float)."""
    return (moment - _EPOCH) // _US


class StatementKey(NamedTuple):
    """What rows must share to go in one INSERT statement."""

    model: str
    source: str
    provider: str  # '' when none
    cost_status: str
    mask: int  # which optional columns the rows hold (BIT)
    price_version: str | None


class GroupKey(NamedTuple):
    """What the rows of a group share: the rollup's key (hour to cost status), then the rest
    of their statement's key."""

    hour: int  # UTC hours since the epoch
    model: str
    source: str
    provider: str
    cost_status: str
    mask: int
    price_version: str | None

    @property
    def rollup_key(self) -> tuple[int, str, str, str, str]:
        return (self.hour, self.model, self.source, self.provider, self.cost_status)

    @property
    def statement(self) -> StatementKey:
        return StatementKey(*self[1:])


class Rows:
    """One write's rows, validated, grouped by rollup key and column mask.

    Each group is one flat list of bound values, row after row (``width(mask)`` values each):
    a statement's parameters are a slice of it, and the rollup sums a column with
    ``sum(flat[position::width])``, both in C, with no Python object per row beyond its values.
    Ids are unique within a Rows (``build_rows`` keeps the larger copy).
    """

    __slots__ = ("count", "groups")

    def __init__(self, groups: dict[GroupKey, list[Any]], count: int) -> None:
        self.groups = groups
        self.count = count

    def without(self, ids: set[str]) -> Rows:
        """These rows minus those with the given ids."""
        groups: dict[GroupKey, list[Any]] = {}
        count = 0
        for key, flat in self.groups.items():
            n = width(key.mask)
            kept = [flat[b : b + n] for b in range(0, len(flat), n) if flat[b] not in ids]
            if kept:
                groups[key] = list(itertools.chain.from_iterable(kept))
                count += len(kept)
        return Rows(groups, count)


def build_rows(events: Sequence[UsageEvent]) -> Rows:
    """The rows for ``events``, validated; of several copies of an id, the one with the most
    tokens (ties: the later one)."""
    groups: dict[GroupKey, list[Any]] = {}
    # Looked up by plain tuples: a GroupKey is built once per group, not per event (~5 %).
    by_tuple: dict[tuple[Any, ...], list[Any]] = {}
    get = by_tuple.get
    ids: set[str] = set()
    add_id = ids.add
    # The mask bits as locals (read once per event each; locals are the fastest to read).
    b_provider, b_cw1, b_reasoning, b_cost = (
        BIT["provider"],
        BIT["cache_write_1h_tokens"],
        BIT["reasoning_tokens"],
        BIT["cost_nanos"],
    )
    b_version, b_estimated, b_requests, b_user = (
        BIT["price_version"],
        BIT["estimated"],
        BIT["requests"],
        BIT["user_id"],
    )
    b_org, b_account, b_key, b_session = (
        BIT["org_id"],
        BIT["account"],
        BIT["api_key_id"],
        BIT["session_id"],
    )
    b_project, b_type, b_tags, b_latency = (
        BIT["project"],
        BIT["request_type"],
        BIT["tags"],
        BIT["latency_ms"],
    )
    b_failed, b_status, b_details = BIT["success"], BIT["status"], BIT["details"]
    b_host = BIT["host"]
    for e in events:
        i, cr, cw, cw1, o, r = (
            e.input_tokens,
            e.cache_read_tokens,
            e.cache_write_tokens,
            e.cache_write_1h_tokens,
            e.output_tokens,
            e.reasoning_tokens,
        )
        if not (
            type(i) is int
            and type(cr) is int
            and type(cw) is int
            and type(cw1) is int
            and type(o) is int
            and type(r) is int
            and i >= 0
            and cr >= 0
            and cw >= 0
            and cw1 >= 0
            and 0 <= r <= o
            and e.model
            and e.id
        ):
            e.validate()  # raises with a message naming the field
        event_id = e.id
        add_id(event_id)
        values: list[Any] = [event_id, (e.ts - _EPOCH) // _US, i, cr, cw, o]
        mask = 0  # a bit per optional column, each added once (+= is faster than |=)
        provider = e.provider
        if provider:
            mask += b_provider
        if cw1:
            mask += b_cw1
            values.append(cw1)
        if r:
            mask += b_reasoning
            values.append(r)
        if e.cost_nanos is not None:
            mask += b_cost
            values.append(e.cost_nanos)
        version = e.price_version
        if version:
            mask += b_version
        if e.estimated:
            mask += b_estimated
        requests = e.requests
        if requests != 1:
            if type(requests) is not int or not 0 <= requests <= MAX_TOKENS:
                e.validate()  # raises with a message naming the field
            mask += b_requests
            values.append(requests)
        if e.user_id:
            mask += b_user
            values.append(e.user_id)
        if e.org_id:
            mask += b_org
            values.append(e.org_id)
        if e.account:
            mask += b_account
            values.append(e.account)
        if e.api_key_id:
            mask += b_key
            values.append(e.api_key_id)
        if e.session_id:
            mask += b_session
            values.append(e.session_id)
        if e.project:
            mask += b_project
            values.append(e.project)
        if e.request_type:
            mask += b_type
            values.append(e.request_type)
        if e.host:
            mask += b_host
            values.append(e.host)
        if e.tags:
            mask += b_tags
            values.append(_json_encode(list(e.tags)).decode())
        if e.latency_ms is not None:
            mask += b_latency
            values.append(e.latency_ms)
        if not e.success:
            mask += b_failed
        if e.status:
            mask += b_status
            values.append(e.status)
        if e.details:
            mask += b_details
            values.append(_json_encode(e.details).decode())
        key = (
            values[1] // HOUR_US,
            e.model,
            e.source,
            provider or "",
            e.cost_status,
            mask,
            version or None,
        )
        flat = get(key)
        if flat is None:
            by_tuple[key] = groups[GroupKey(*key)] = values
        else:
            flat += values
    if len(ids) == len(events):
        return Rows(groups, len(events))
    best: dict[str, UsageEvent] = {}
    for e in events:
        kept = best.get(e.id)
        if kept is None or e.total_tokens >= kept.total_tokens:
            best[e.id] = e
    return build_rows(list(best.values()))


def in_id_order(flat: list[Any], n: int) -> list[Any]:
    """Rows of ``n`` values, sorted by id when their ids are far from sorted.

    Random ids (message ids, request UUIDs) would land all over the ``UNIQUE`` index on ``id``;
    inserted in id order they walk it once, which made inserts ~25% cheaper. Ids that mostly
    ascend already (fewer than a quarter of neighbours out of order) are left as they are.
    """
    ids = flat[::n]
    if sum(map(operator.gt, ids, ids[1:])) * 4 < len(ids):
        return flat
    rows = [flat[begin : begin + n] for begin in range(0, len(flat), n)]
    rows.sort(key=operator.itemgetter(0))
    return list(itertools.chain.from_iterable(rows))


@lru_cache(maxsize=512)
def width(mask: int) -> int:
    """Values per row for a column mask."""
    return len(columns_for(mask))


@lru_cache(maxsize=4096)
def position(mask: int, column: str) -> int | None:
    """Where ``column`` sits in a row with this mask (None: left out of the row)."""
    columns = columns_for(mask)
    return columns.index(column) if column in columns else None


def row_total(mask: int, values: Sequence[Any]) -> int:
    """input + cache reads + cache writes + output: decides which copy of an id wins."""
    at = position(mask, "cache_write_1h_tokens")
    total: int = values[2] + values[3] + values[4] + values[5]
    return total if at is None else total + values[at]


@lru_cache(maxsize=512)
def columns_for(mask: int) -> tuple[str, ...]:
    """The columns a row with this mask holds, in order."""
    optional = tuple(
        c
        for bit, c in enumerate(OPTIONAL_COLUMNS)
        if mask & (1 << bit) and c not in _GROUP_CONSTANT
    )
    return REQUIRED_COLUMNS + optional


@lru_cache(maxsize=512)
def constant_columns(mask: int) -> tuple[str, ...]:
    """The columns a group key fixes for rows with this mask, in ``constants`` order."""
    columns: tuple[str, ...] = ("source", "model", "cost_status")
    if mask & PROVIDER_BIT:
        columns += ("provider",)
    if mask & PRICE_VERSION_BIT:
        columns += ("price_version",)
    if mask & ESTIMATED_BIT:
        columns += ("estimated",)
    if mask & FAILED_BIT:
        columns += ("success",)
    return columns


def constants(shared: StatementKey) -> list[Any]:
    """The values of ``constant_columns`` for rows sharing ``shared``."""
    mask = shared.mask
    values: list[Any] = [shared.source, shared.model, shared.cost_status]
    if mask & PROVIDER_BIT:
        values.append(shared.provider)
    if mask & PRICE_VERSION_BIT:
        values.append(shared.price_version)
    if mask & ESTIMATED_BIT:
        values.append(1)
    if mask & FAILED_BIT:
        values.append(0)
    return values


@lru_cache(maxsize=1024)
def insert_sql(mask: int, rows: int = 1) -> str:
    """INSERT of ``rows`` rows: parameters are the rows' values, then the group's constants
    (numbered parameters, shared by every row)."""
    columns = columns_for(mask)
    fixed = constant_columns(mask)
    n = len(columns)
    shared = ", ".join(f"?{rows * n + k + 1}" for k in range(len(fixed)))
    tuples = (
        "(" + ", ".join(f"?{r * n + k + 1}" for k in range(n)) + ", " + shared + ")"
        for r in range(rows)
    )
    return f"INSERT INTO events ({', '.join(columns + fixed)}) VALUES {', '.join(tuples)}"

"""Turning UsageEvents into SQL rows, fast: the ingest hot path.

Binding parameters is most of what an insert costs in Python's sqlite3, and most events leave
most attribution fields empty. So a row binds only the columns its event has: the always-present
ones, then each optional column whose value differs from the column's default, in a fixed order.
``Row.mask`` says which optional columns are there; rows with the same mask share a statement.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple

import msgspec

from llmledger.events import UsageEvent

REQUIRED_COLUMNS: tuple[str, ...] = (
    "id",
    "ts",
    "source",
    "model",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "cost_status",
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
    "user_id",
    "org_id",
    "account",
    "api_key_id",
    "session_id",
    "project",
    "request_type",
    "tags",
    "latency_ms",
    "success",
    "status",
    "details",
)

HOUR_US = 3_600_000_000
_json_encode = msgspec.json.Encoder().encode
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_us(moment: datetime) -> int:
    """Integer microseconds since the epoch for an aware datetime (exact, no float)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class Row(NamedTuple):
    id: str
    total: int  # input + cache reads + cache writes + output: decides which copy of an id wins
    mask: int
    values: list[Any]
    key: tuple[int, str, str, str, str]  # rollup key: UTC hour, model, source, provider, status
    sums: tuple[int, ...]  # rollup sums (input, ..., events, estimated, failed), then ts


_new_tuple = tuple.__new__


def event_row(e: UsageEvent) -> Row:
    """The row for an event, validating it on the way."""
    i, cr, cw, cw1, o, r = (
        e.input_tokens,
        e.cache_read_tokens,
        e.cache_write_tokens,
        e.cache_write_1h_tokens,
        e.output_tokens,
        e.reasoning_tokens,
    )
    if (
        type(i) is not int
        or type(cr) is not int
        or type(cw) is not int
        or type(cw1) is not int
        or type(o) is not int
        or type(r) is not int
        or min(i, cr, cw, cw1, o, r) < 0
        or r > o
        or not e.model
        or not e.id
    ):
        e.validate()  # raises with a message naming the field
    ts = to_us(e.ts)
    values: list[Any] = [e.id, ts, e.source, e.model, i, cr, cw, o, e.cost_status]
    mask = 0
    if e.provider:
        mask |= 1
        values.append(e.provider)
    if cw1:
        mask |= 2
        values.append(cw1)
    if r:
        mask |= 4
        values.append(r)
    if e.cost_nanos is not None:
        mask |= 8
        values.append(e.cost_nanos)
    if e.price_version:
        mask |= 16
        values.append(e.price_version)
    if e.estimated:
        mask |= 32
        values.append(1)
    if e.requests != 1:
        mask |= 64
        values.append(e.requests)
    if e.user_id:
        mask |= 128
        values.append(e.user_id)
    if e.org_id:
        mask |= 256
        values.append(e.org_id)
    if e.account:
        mask |= 512
        values.append(e.account)
    if e.api_key_id:
        mask |= 1024
        values.append(e.api_key_id)
    if e.session_id:
        mask |= 2048
        values.append(e.session_id)
    if e.project:
        mask |= 4096
        values.append(e.project)
    if e.request_type:
        mask |= 8192
        values.append(e.request_type)
    if e.tags:
        mask |= 16384
        values.append(_json_encode(list(e.tags)).decode())
    if e.latency_ms is not None:
        mask |= 32768
        values.append(e.latency_ms)
    if not e.success:
        mask |= 65536
        values.append(0)
    if e.status:
        mask |= 131072
        values.append(e.status)
    if e.details:
        mask |= 262144
        values.append(_json_encode(e.details).decode())
    cost = e.cost_nanos or 0
    requests = e.requests
    key = (ts // HOUR_US, e.model, e.source, e.provider or "", e.cost_status)
    sums = (i, cr, cw, cw1, o, r, cost, requests, 1, mask >> 5 & 1, mask >> 16 & 1, ts)
    # tuple.__new__ skips NamedTuple's Python-level __new__: half the cost, on the hot path.
    return _new_tuple(Row, (e.id, i + cr + cw + cw1 + o, mask, values, key, sums))


@lru_cache(maxsize=512)
def columns_for(mask: int) -> tuple[str, ...]:
    optional = tuple(c for bit, c in enumerate(OPTIONAL_COLUMNS) if mask & (1 << bit))
    return REQUIRED_COLUMNS + optional


@lru_cache(maxsize=1024)
def insert_sql(mask: int, rows: int = 1) -> str:
    columns = columns_for(mask)
    one = f"({', '.join('?' * len(columns))})"
    return f"INSERT INTO events ({', '.join(columns)}) VALUES {', '.join([one] * rows)}"

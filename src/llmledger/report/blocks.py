"""5-hour billing windows ("blocks"), as Claude's subscription plans count usage.

A block starts at its first message's time floored to the hour (UTC) and lasts 5 hours; a
message after the block's end, or more than 5 hours after the previous message, starts a new
block. The block that is still open (now is before its end and within 5 hours of its last
message) is *active*: it gets a burn rate (tokens per minute and dollars per hour, over the
span from its first to its last message) and a projection of its usage at the block's end.

Pure: events in, blocks out. ``now`` is a parameter so the result is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from llmledger.events import UsageEvent, nanos_to_usd
from llmledger.query import Totals

BLOCK_LENGTH = timedelta(hours=5)


@dataclass
class BurnRate:
    tokens_per_minute: float
    cost_per_hour_nanos: int


@dataclass
class Projection:
    total_tokens: int
    cost_nanos: int
    remaining_minutes: int


@dataclass
class Block:
    start: datetime  # first message floored to the hour
    end: datetime  # start + 5 hours
    first: datetime  # first message
    last: datetime  # last message
    totals: Totals = field(default_factory=Totals)
    models: dict[str, Totals] = field(default_factory=dict)
    active: bool = False
    burn: BurnRate | None = None
    projection: Projection | None = None

    @property
    def id(self) -> str:
        return self.start.isoformat().replace("+00:00", "Z")


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def _totals_of(event: UsageEvent) -> Totals:
    us = int(event.ts.timestamp() * 1_000_000)
    return Totals(
        input_tokens=event.input_tokens,
        cache_read_tokens=event.cache_read_tokens,
        cache_write_tokens=event.cache_write_tokens,
        cache_write_1h_tokens=event.cache_write_1h_tokens,
        output_tokens=event.output_tokens,
        reasoning_tokens=event.reasoning_tokens,
        cost_nanos=event.cost_nanos or 0,
        requests=event.requests,
        events=1,
        unpriced=1 if event.cost_status == "unpriced" else 0,
        estimated=1 if event.estimated else 0,
        first_ts=us,
        last_ts=us,
    )


def group_blocks(events: Iterable[UsageEvent]) -> list[Block]:
    """Events (in time order) grouped into 5-hour blocks."""
    blocks: list[Block] = []
    current: Block | None = None
    for event in sorted(events, key=lambda e: e.ts):
        ts = event.ts
        if current is None or ts >= current.end or ts - current.last > BLOCK_LENGTH:
            start = floor_hour(ts)
            current = Block(start=start, end=start + BLOCK_LENGTH, first=ts, last=ts)
            blocks.append(current)
        current.last = ts
        totals = _totals_of(event)
        current.totals.add(totals)
        current.models.setdefault(event.model, Totals()).add(totals)
    return blocks


def mark_active(blocks: list[Block], now: datetime) -> None:
    """Flag the open block (if any) and give it a burn rate and an end-of-block projection."""
    if not blocks:
        return
    block = blocks[-1]
    if not (now < block.end and now - block.last < BLOCK_LENGTH):
        return
    block.active = True
    minutes = (block.last - block.first).total_seconds() / 60
    tokens = block.totals.total_tokens
    cost = block.totals.cost_nanos
    if minutes <= 0:
        block.burn = None
        rate_tokens, rate_cost = 0.0, 0.0
    else:
        rate_tokens = tokens / minutes
        rate_cost = cost / minutes
        block.burn = BurnRate(rate_tokens, round(rate_cost * 60))
    remaining = max((block.end - now).total_seconds() / 60, 0.0)
    block.projection = Projection(
        total_tokens=tokens + round(rate_tokens * remaining),
        cost_nanos=cost + round(rate_cost * remaining),
        remaining_minutes=round(remaining),
    )


def compute_blocks(events: Iterable[UsageEvent], now: datetime) -> list[Block]:
    blocks = group_blocks(events)
    mark_active(blocks, now)
    return blocks


def resolve_limit(limit: str | None, blocks: list[Block]) -> int | None:
    """``--token-limit``: a number, or ``max`` (the largest finished block so far)."""
    if limit is None:
        return None
    if limit.strip().lower() == "max":
        finished = [b.totals.total_tokens for b in blocks if not b.active]
        return max(finished) if finished else None
    return int(limit.replace(",", "").replace("_", ""))


def percent(tokens: int, limit: int | None) -> float | None:
    if not limit:
        return None
    return round(tokens * 100 / limit, 1)


def _usd(nanos: int) -> float:
    return float(nanos_to_usd(nanos))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def block_json(block: Block, limit: int | None) -> dict[str, Any]:
    """One block with ccusage's ``blocks --json`` field names (plus ours)."""
    t = block.totals
    data: dict[str, Any] = {
        "id": block.id,
        "startTime": _iso(block.start),
        "endTime": _iso(block.end),
        "actualEndTime": _iso(block.last),
        "isActive": block.active,
        "isGap": False,
        "entries": t.events,
        "tokenCounts": {
            "inputTokens": t.input_tokens,
            "outputTokens": t.output_tokens,
            "cacheCreationInputTokens": t.cache_creation_tokens,
            "cacheReadInputTokens": t.cache_read_tokens,
        },
        "totalTokens": t.total_tokens,
        "costUSD": _usd(t.cost_nanos),
        "models": sorted(block.models),
        "reasoningTokens": t.reasoning_tokens,
        "unpricedRequests": t.unpriced,
        "burnRate": None,
        "projection": None,
    }
    if block.burn is not None:
        data["burnRate"] = {
            "tokensPerMinute": round(block.burn.tokens_per_minute, 2),
            "costPerHour": round(_usd(block.burn.cost_per_hour_nanos), 6),
        }
    if block.projection is not None:
        data["projection"] = {
            "totalTokens": block.projection.total_tokens,
            "totalCost": round(_usd(block.projection.cost_nanos), 6),
            "remainingMinutes": block.projection.remaining_minutes,
        }
    if limit:
        data["tokenLimit"] = limit
        data["percentOfLimit"] = percent(t.total_tokens, limit)
        if block.projection is not None:
            data["projectedPercentOfLimit"] = percent(block.projection.total_tokens, limit)
    return data


def blocks_json(blocks: list[Block], limit: int | None) -> dict[str, Any]:
    return {"blocks": [block_json(block, limit) for block in blocks]}


BLOCK_CSV_FIELDS = (
    "startTime",
    "endTime",
    "actualEndTime",
    "isActive",
    "models",
    "entries",
    "inputTokens",
    "outputTokens",
    "cacheCreationInputTokens",
    "cacheReadInputTokens",
    "totalTokens",
    "costUSD",
    "reasoningTokens",
    "unpricedRequests",
)


def block_csv_row(block: Block) -> dict[str, Any]:
    """One block as a flat CSV row: the JSON fields, token counts unnested, models joined."""
    data = block_json(block, None)
    row = {**data, **data["tokenCounts"], "models": " ".join(data["models"])}
    return {field: row[field] for field in BLOCK_CSV_FIELDS}

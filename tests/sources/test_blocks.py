"""5-hour billing blocks: boundaries, gaps, the active block's burn rate and projection."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from llmledger.events import UsageEvent
from llmledger.report.blocks import block_json, compute_blocks, resolve_limit

T0 = datetime(2026, 3, 1, 9, 42, 10, tzinfo=timezone.utc)


def event(at: datetime, tokens: int = 1000, cost: int = 1_000_000) -> UsageEvent:
    return UsageEvent(
        model="claude-sonnet-4-5",
        ts=at,
        source="claude-code",
        input_tokens=tokens,
        cost_nanos=cost,
        cost_status="computed",
    )


def test_block_starts_at_the_hour_and_lasts_five_hours() -> None:
    events = [
        event(T0),
        event(T0 + timedelta(hours=4, minutes=10)),  # 13:52, before 14:00: same block
        event(T0 + timedelta(hours=4, minutes=20)),  # 14:02: past the end, a new block
    ]
    blocks = compute_blocks(events, now=T0 + timedelta(days=2))
    assert [(b.start.isoformat(), b.totals.events) for b in blocks] == [
        ("2026-03-01T09:00:00+00:00", 2),
        ("2026-03-01T14:00:00+00:00", 1),
    ]
    assert blocks[0].end == datetime(2026, 3, 1, 14, tzinfo=timezone.utc)
    assert not any(b.active for b in blocks)


def test_gap_of_more_than_five_hours_starts_a_new_block() -> None:
    late = T0 + timedelta(hours=5, minutes=30)
    blocks = compute_blocks([event(late), event(T0)], now=T0 + timedelta(days=1))
    assert [b.start.hour for b in blocks] == [9, 15]


def test_active_block_burn_rate_and_projection() -> None:
    events = [event(T0), event(T0 + timedelta(minutes=30), tokens=2000, cost=2_000_000)]
    now = T0 + timedelta(minutes=78)  # 11:00:10; the block ends at 14:00
    (block,) = compute_blocks(events, now=now)
    assert block.active is True
    assert block.burn is not None and block.projection is not None
    assert block.burn.tokens_per_minute == 100.0  # 3,000 tokens over 30 minutes
    assert block.burn.cost_per_hour_nanos == 6_000_000  # $0.006 per hour
    remaining = (block.end - now).total_seconds() / 60
    assert block.projection.remaining_minutes == round(remaining)
    assert block.projection.total_tokens == 3000 + round(100 * remaining)
    data = block_json(block, limit=10_000)
    assert data["isActive"] is True
    assert data["burnRate"] == {"tokensPerMinute": 100.0, "costPerHour": 0.006}
    assert data["percentOfLimit"] == 30.0
    assert data["projectedPercentOfLimit"] == round(data["projection"]["totalTokens"] / 100, 1)


def test_block_is_not_active_after_a_five_hour_silence() -> None:
    (block,) = compute_blocks([event(T0)], now=T0 + timedelta(hours=4, minutes=10))
    assert block.active is True  # still inside 09:00-14:00
    (block,) = compute_blocks([event(T0)], now=T0 + timedelta(hours=4, minutes=30))
    assert not block.active and block.burn is None and block.projection is None


def test_token_limit_max_is_the_largest_finished_block() -> None:
    events = [event(T0, 500), event(T0 + timedelta(hours=6), 900), event(T0 + timedelta(hours=12))]
    blocks = compute_blocks(events, now=T0 + timedelta(hours=12, minutes=1))
    assert blocks[-1].active is True
    assert resolve_limit("max", blocks) == 900
    assert resolve_limit("1_000", blocks) == 1000
    assert resolve_limit(None, blocks) is None

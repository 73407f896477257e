from __future__ import annotations

from decimal import Decimal

import pytest

from llmledger.events import UsageEvent
from llmledger.usage import TokenCounts


def test_defaults_are_zero_and_total_sums_every_billed_field() -> None:
    assert TokenCounts().total_tokens == 0
    counts = TokenCounts(
        input_tokens=1,
        cache_read_tokens=20,
        cache_write_tokens=300,
        cache_write_1h_tokens=4000,
        output_tokens=50000,
        reasoning_tokens=600,
    )
    assert counts.total_tokens == 54321  # reasoning is inside output, not added again
    assert counts.cache_creation_tokens == 4300


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_tokens": -1},
        {"output_tokens": 1.5},
        {"cache_read_tokens": True},
        {"cache_write_tokens": "3"},
        {"reasoning_tokens": 5, "output_tokens": 4},
        {"reported_cost": Decimal("-0.01")},
        {"reported_cost": Decimal("NaN")},
        {"reported_cost": 0.5},
    ],
)
def test_rejects_impossible_counts(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TokenCounts(**kwargs)  # type: ignore[arg-type]


def test_is_frozen_and_hashable_even_with_details() -> None:
    counts = TokenCounts(input_tokens=1, details={"service_tier": "flex"})
    with pytest.raises(AttributeError):
        counts.input_tokens = 2  # type: ignore[misc]
    assert hash(counts) == hash(TokenCounts(input_tokens=1, details={"other": 1}))
    assert counts != TokenCounts(input_tokens=1)


def test_token_fields_feed_a_usage_event() -> None:
    counts = TokenCounts(input_tokens=7, output_tokens=9, reasoning_tokens=2)
    event = UsageEvent(model="gpt-4o", **counts.token_fields())
    assert (event.input_tokens, event.output_tokens, event.reasoning_tokens) == (7, 9, 2)
    assert event.total_tokens == counts.total_tokens


def test_apply_to_copies_counts_and_merges_details() -> None:
    event = UsageEvent(model="claude-sonnet-4-5", details={"request": "r1", "service_tier": "x"})
    counts = TokenCounts(
        input_tokens=3,
        cache_read_tokens=10,
        cache_write_tokens=12304,
        cache_write_1h_tokens=5,
        output_tokens=550,
        reasoning_tokens=50,
        details={"service_tier": "standard"},
    )
    assert counts.apply_to(event) is event
    assert event.input_tokens == 3
    assert event.cache_read_tokens == 10
    assert event.cache_write_tokens == 12304
    assert event.cache_write_1h_tokens == 5
    assert event.output_tokens == 550
    assert event.reasoning_tokens == 50
    assert event.details == {"request": "r1", "service_tier": "standard"}
    assert event.cost_status == "unpriced" and event.cost_nanos is None
    assert event.estimated is False
    event.validate()


def test_apply_to_sets_a_reported_cost_exactly() -> None:
    event = UsageEvent(model="openrouter/auto")
    TokenCounts(input_tokens=1, reported_cost=Decimal("0.000123456789")).apply_to(event)
    assert event.cost_nanos == 123457  # half-even at the nano
    assert event.cost_status == "reported"
    assert event.details is None


def test_apply_to_marks_estimates() -> None:
    event = UsageEvent(model="gpt-4o")
    TokenCounts(output_tokens=10, estimated=True).apply_to(event)
    assert event.estimated is True

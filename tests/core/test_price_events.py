"""The one pricing function (``PriceBook.price_events``) against the price list's formula
written out plainly with Decimal: every kind of model, tiers, reasoning rates, aggregates."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal

from llmledger import PriceBook, UsageEvent
from llmledger.pricing.rates import ATTO_PER_USD, ModelPrice, Rates


def tier_rates(price: ModelPrice, per_request_input: int) -> Rates:
    """A cliff: the whole request at the rates of the last tier its input is above."""
    chosen = price.base
    for threshold, rates in price.tiers:
        if per_request_input > threshold:
            chosen = rates
    return chosen


def expected_nanos(price: ModelPrice, e: UsageEvent) -> int:
    total_input = e.input_tokens + e.cache_read_tokens + e.cache_write_tokens
    total_input += e.cache_write_1h_tokens
    r = tier_rates(price, total_input // e.requests if e.requests > 1 else total_input)
    cache_read = r.input if r.cache_read is None else r.cache_read
    cache_write = r.input if r.cache_write is None else r.cache_write
    if r.cache_write_1h is not None:
        cache_write_1h = r.cache_write_1h
    else:
        cache_write_1h = 2 * r.input if price.anthropic_style else cache_write
    atto = (
        e.input_tokens * r.input
        + e.cache_read_tokens * cache_read
        + e.cache_write_tokens * cache_write
        + e.cache_write_1h_tokens * cache_write_1h
    )
    reasoning = min(e.reasoning_tokens, e.output_tokens)
    if r.reasoning is not None and reasoning > 0:
        atto += (e.output_tokens - reasoning) * r.output + reasoning * r.reasoning
    else:
        atto += e.output_tokens * r.output
    usd = Decimal(atto) / ATTO_PER_USD
    return int((usd * 10**9).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def test_every_kind_of_model_costs_what_the_formula_says() -> None:
    book = PriceBook()
    tiered = [
        name
        for name in list(book.snapshot.entries)[:3000]
        if (found := book.match(name)) is not None and found.price.tiers
    ][:40]
    assert len(tiered) == 40  # long-context tiers are exercised
    with_reasoning = [
        name
        for name in book.snapshot.entries
        if (found := book.match(name)) is not None and found.price.base.reasoning is not None
    ][:10]
    assert len(with_reasoning) == 10  # a separate reasoning rate is exercised
    models = [*tiered, *with_reasoning, "claude-sonnet-4-5", "gpt-5", "gemini-2.5-pro"]
    models.append("no-such-model")
    rng = random.Random(5)
    events = []
    for n in range(6000):
        output = rng.randrange(0, 50_000)
        reported = rng.random() < 0.05
        events.append(
            UsageEvent(
                id=f"p{n}",
                model=rng.choice(models),
                provider=rng.choice([None, "anthropic", "openai"]),
                input_tokens=rng.choice([rng.randrange(0, 1000), rng.randrange(100_000, 300_000)]),
                cache_read_tokens=rng.randrange(0, 200_000),
                cache_write_tokens=rng.randrange(0, 50_000),
                cache_write_1h_tokens=rng.choice([0, rng.randrange(0, 50_000)]),
                output_tokens=output,
                reasoning_tokens=rng.choice([0, rng.randrange(0, output + 1)]),
                requests=rng.choice([1, 0, 2, 3]),
                cost_nanos=rng.randrange(10**6) if reported else None,
                cost_status="reported" if reported else "unpriced",
            )
        )
    before = {e.id: e.cost_nanos for e in events}
    book.price_events(events)
    statuses = set()
    for e in events:
        statuses.add(e.cost_status)
        found = book.match(e.model, e.provider)
        if before[e.id] is not None:  # a provider-reported cost is kept as it is
            assert (e.cost_status, e.cost_nanos) == ("reported", before[e.id])
        elif found is None:
            assert (e.cost_status, e.cost_nanos, e.price_version) == (
                "unpriced",
                None,
                book.version,
            )
        else:
            assert (e.cost_status, e.price_version) == ("computed", book.version)
            assert e.cost_nanos == expected_nanos(found.price, e), e
    assert statuses == {"computed", "reported", "unpriced"}


def test_one_event_and_cost_take_the_same_path() -> None:
    book = PriceBook()
    event = UsageEvent(model="claude-sonnet-4-5", input_tokens=1000, output_tokens=500)
    book.price_event(event)
    assert event.cost_nanos == 10_500_000  # $3/M in, $15/M out
    assert book.cost("claude-sonnet-4-5", input_tokens=1000, output_tokens=500) == Decimal("0.0105")
    assert book.cost("no-such-model-anywhere", input_tokens=1) is None

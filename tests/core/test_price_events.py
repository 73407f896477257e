"""Bulk pricing (``PriceBook.price_events``) gives exactly what pricing one event gives."""

from __future__ import annotations

import copy
import random

from llmledger import PriceBook, UsageEvent


def test_price_events_matches_price_event_for_every_kind_of_model() -> None:
    book = PriceBook()
    tiered = [
        name
        for name in list(book.snapshot.entries)[:3000]
        if (found := book.match(name)) is not None and found.price.tiers
    ][:40]
    assert len(tiered) == 40  # long-context tiers are exercised
    models = [*tiered, "claude-sonnet-4-5", "gpt-5", "gemini-2.5-pro", "no-such-model"]
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
    one_by_one = copy.deepcopy(events)
    book.price_events(events)
    for e in one_by_one:
        book.price_event(e)
    assert [(e.cost_nanos, e.cost_status, e.price_version) for e in events] == [
        (e.cost_nanos, e.cost_status, e.price_version) for e in one_by_one
    ]
    assert {e.cost_status for e in events} == {"computed", "reported", "unpriced"}

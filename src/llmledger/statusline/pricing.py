"""Pricing a call with a model's rates as a snapshot carries them: a ``pricing.book.Lane``
written as a JSON list. The same formula as ``PriceBook.price_events`` (tests check that the
two agree), without importing the price book."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing: the fast path does without importing it
if TYPE_CHECKING:
    from typing import Any


# ``lane``: a Lane as JSON, [input, output, cache_read, cache_write, cache_write_1h, reasoning
# (-1: none), unit, half, ties_to_even, [[threshold, lane], ...]].


def cost_nanos(
    lane: list[Any], fresh: int, read: int, write: int, write_1h: int, output: int, reasoning: int
) -> int:
    """Nano-USD of one request at ``lane``'s rates (its long-context tier chosen by input)."""
    r_in, r_out, r_read, r_write, r_write_1h, r_reason, unit, half, ties, tiers = lane
    if tiers:
        size = fresh + read + write + write_1h
        for threshold, tier in tiers:
            if size <= threshold:
                break
            r_in, r_out, r_read, r_write, r_write_1h, r_reason, unit, half, ties, _ = tier
    cost = fresh * r_in + read * r_read + write * r_write + write_1h * r_write_1h
    if r_reason >= 0 and 0 < reasoning <= output:
        cost += (output - reasoning) * r_out + reasoning * r_reason
    else:
        cost += output * r_out
    nanos, rest = divmod(cost, unit)
    if rest > half or (rest == half and ties and nanos & 1):
        nanos += 1
    return int(nanos)

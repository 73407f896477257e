"""The pricing formula: one request's cost in nano-USD at a ``Lane``'s rates.

``PriceBook.price_events`` calls it for every event, and so does the statusline, which reads
its lanes from a snapshot (a ``Lane`` written as a JSON list, in ``Lane``'s field order) and
must not import the price book. Standard library only, and not even ``typing`` at run time.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: the statusline's fast path does without importing it
if TYPE_CHECKING:
    from llmledger.pricing.book import Lane


def lane_cost(
    lane: Lane,
    fresh: int,
    read: int,
    write: int,
    write_1h: int,
    output: int,
    reasoning: int,
    requests: int = 1,
) -> int:
    """Nano-USD of ``requests`` requests with these token counts (summed) at ``lane``'s rates.

    cost = fresh input x input rate + cache reads x cache-read rate + cache writes (5-minute
    and 1-hour) x their rates + output x output rate, where reasoning tokens (a part of the
    output) take the reasoning rate when there is one. With long-context tiers, the request's
    input (fresh + cache reads + cache writes; per request, for an aggregate) picks the tier
    that bills all of it. The sum in the lane's units is rounded once to nano-USD, half to
    even.
    """
    r_in, r_out, r_read, r_write, r_write_1h, r_reason, unit, half, ties, tiers = lane
    if tiers:
        size = fresh + read + write + write_1h
        if requests > 1:
            size //= requests
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
    return nanos

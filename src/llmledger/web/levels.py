"""The contribution graph's five intensity levels, ranked by quartiles of the active days.

A day with nothing (0) is level 0. Every other day's level is the quarter of the active days'
values it falls in: ``ceil(4 × (how many active days are ≤ it) / active days)``, so a quarter
of the active days sit at each level 1-4 (ties share the higher level). One huge day cannot wash
out the year, as a ratio to the maximum would.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

__all__ = ["LEVELS", "quartile_levels"]

LEVELS = 5  # 0 (nothing) to 4


def quartile_levels(values: Sequence[int]) -> list[int]:
    """The level (0-4) of each value, ranked among the positive ones. Integers (tokens,
    nano-USD) keep the ranking exact."""
    active = sorted(v for v in values if v > 0)
    count = len(active)
    levels = []
    for value in values:
        if value <= 0:
            levels.append(0)
            continue
        at_most = bisect_right(active, value)
        levels.append(-(-4 * at_most // count))  # ceil(4 * at_most / count), 1..4
    return levels

"""Runs of active days: the longest in a window, and the one still running on a given day."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, timedelta

__all__ = ["current_streak", "longest_streak"]

_DAY = timedelta(days=1)


def longest_streak(active: Iterable[date]) -> int:
    """The most consecutive calendar days in ``active``."""
    best = run = 0
    previous: date | None = None
    for day in sorted(set(active)):
        run = run + 1 if previous is not None and day - previous == _DAY else 1
        best = max(best, run)
        previous = day
    return best


def current_streak(active: Collection[date], as_of: date) -> int:
    """Consecutive active days ending on ``as_of``, or on the day before when ``as_of`` has
    nothing yet (a day still under way does not break the streak)."""
    day = as_of if as_of in active else as_of - _DAY
    run = 0
    while day in active:
        run += 1
        day -= _DAY
    return run

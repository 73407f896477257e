"""The windows usage is counted in: calendar day, ISO week, calendar month in the operator's
time zone, or all time. A window knows its key (``2026-01``), its UTC bounds and when it resets;
the next window starts by itself at the boundary (nothing has to roll it over)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

WindowKind = Literal["day", "week", "month", "total"]
WINDOW_KINDS: tuple[WindowKind, ...] = ("day", "week", "month", "total")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FOREVER = datetime(9999, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Window:
    kind: WindowKind
    key: str  # "2026-01-31", "2026-W05", "2026-01", "total"
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive: when the window resets

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def resets_at(self) -> datetime | None:
        return None if self.kind == "total" else self.end


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def _first_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def window_at(kind: WindowKind, moment: datetime, zone: ZoneInfo) -> Window:
    """The ``kind`` window holding ``moment`` (an aware datetime), in ``zone``."""
    last = _LAST.get((kind, zone))
    if last is not None and last.contains(moment):
        return last  # the hot path: most calls fall in the window of the call before
    window = _window_at(kind, moment, zone)
    _LAST[(kind, zone)] = window
    return window


_LAST: dict[tuple[WindowKind, ZoneInfo], Window] = {}


def _window_at(kind: WindowKind, moment: datetime, zone: ZoneInfo) -> Window:
    if kind == "total":
        return Window("total", "total", _EPOCH, _FOREVER)
    local = moment.astimezone(zone).date()
    if kind == "day":
        start, end = local, local + timedelta(days=1)
        key = local.isoformat()
    elif kind == "week":
        start = local - timedelta(days=local.weekday())
        end = start + timedelta(days=7)
        year, week, _ = start.isocalendar()
        key = f"{year}-W{week:02d}"
    else:
        start = local.replace(day=1)
        end = _first_of_next_month(start)
        key = f"{start.year:04d}-{start.month:02d}"
    return Window(kind, key, _midnight(start, zone), _midnight(end, zone))


def month_at(moment: datetime, zone: ZoneInfo) -> Window:
    return window_at("month", moment, zone)


def previous_month(window: Window, zone: ZoneInfo) -> Window:
    return month_at(window.start - timedelta(microseconds=1), zone)


@lru_cache(maxsize=512)
def counter_range(window: Window, zone: ZoneInfo) -> tuple[str, str]:
    """The first and last counter keys (quota/records.py) a window sums: one month key, the
    days of a day or a week, every month for all time."""
    if window.kind == "total":
        return "m:", "m:~"
    if window.kind == "month":
        return f"m:{window.key}", f"m:{window.key}"
    first = window.start.astimezone(zone).date()
    last = (window.end - timedelta(microseconds=1)).astimezone(zone).date()
    return f"d:{first.isoformat()}", f"d:{last.isoformat()}"


_US = 1_000_000
_FIRST = -(2**63)  # the first offset applies from the beginning of time


@lru_cache(maxsize=8)
def zone_offsets(name: str, until_year: int = 2100) -> tuple[tuple[int, int], ...]:
    """A zone's UTC offsets as ``(since_us, offset_us)`` pairs in time order, from 1970 to
    ``until_year`` (the last one holds after), found day by day and bisected to the second."""
    zone = ZoneInfo(name)

    def offset(second: int) -> int:
        moment = datetime.fromtimestamp(second, zone)
        delta = moment.utcoffset() or timedelta(0)
        return int(delta.total_seconds()) * _US

    end = int(datetime(until_year, 1, 1, tzinfo=timezone.utc).timestamp())
    current = offset(0)
    offsets = [(_FIRST, current)]
    day = 86_400
    for second in range(day, end + 1, day):
        now = offset(second)
        if now == current:
            continue
        low, high = second - day, second  # the change happens in (low, high]
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if offset(middle) == current else (low, middle)
        offsets.append((high * _US, now))
        current = now
    return tuple(offsets)


__all__ = [
    "WINDOW_KINDS",
    "Window",
    "WindowKind",
    "counter_range",
    "month_at",
    "previous_month",
    "window_at",
    "zone_offsets",
]

"""The windows usage is counted in: calendar day, ISO week, calendar month in the operator's
time zone, or all time. A window knows its key (``2026-01``), its UTC bounds and when it resets;
the next window starts by itself at the boundary (nothing has to roll it over)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
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


__all__ = ["WINDOW_KINDS", "Window", "WindowKind", "month_at", "previous_month", "window_at"]

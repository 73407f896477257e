"""Time zones: the user's local zone, and how local calendar days map to UTC instants.

Days are always grouped in a named IANA zone (``--tz``, default the local zone), never silently
in UTC. A zone's UTC offset is piecewise constant; ``day_segments`` lists the pieces over a span
so a store can compute each event's local day in SQL.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from llmledger.errors import LedgerError
from llmledger.query import US_PER_DAY, DaySegments

_EPOCH_DATE = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class UnknownTimeZoneError(LedgerError):
    pass


def resolve_zone(name: str | None) -> tzinfo:
    """An IANA zone by name (``UTC`` accepted), or the local zone when ``name`` is None."""
    if name is None:
        return local_zone()
    if name.upper() in {"UTC", "Z", "GMT"}:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZoneError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC"
        ) from None


def local_zone() -> tzinfo:
    """The machine's zone as an IANA zone (so DST is right for past dates), from ``TZ`` or
    ``/etc/localtime``; falls back to the current fixed offset."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return resolve_zone(name)
        except UnknownTimeZoneError:
            pass
    localtime = Path("/etc/localtime")
    try:
        target = str(localtime.resolve())
        marker = "zoneinfo/"
        if marker in target:
            return ZoneInfo(target.split(marker, 1)[1])
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    offset = datetime.now().astimezone().tzinfo
    return offset if offset is not None else timezone.utc


def zone_name(zone: tzinfo) -> str:
    key = getattr(zone, "key", None)
    if isinstance(key, str):
        return key
    return str(zone.tzname(None) or "UTC") if zone is not timezone.utc else "UTC"


def to_us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def local_midnight_us(day: date, zone: tzinfo) -> int:
    """UTC microseconds of the first instant of ``day`` in ``zone``."""
    return to_us(datetime(day.year, day.month, day.day, tzinfo=zone))


def day_from_number(number: int) -> date:
    return _EPOCH_DATE + timedelta(days=number)


def _offset_us(zone: tzinfo, ts_us: int) -> int:
    moment = _EPOCH + timedelta(microseconds=ts_us)
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    return (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds


def day_segments(zone: tzinfo, start_us: int, end_us: int) -> DaySegments:
    """The zone's offsets over [start_us, end_us]: found by stepping a day at a time and
    bisecting each change down to the microsecond."""
    bounds: list[int] = []
    offsets = [_offset_us(zone, start_us)]
    step = US_PER_DAY // 2
    position = start_us
    while position < end_us:
        nxt = min(position + step, end_us)
        offset = _offset_us(zone, nxt)
        if offset != offsets[-1]:
            low, high = position, nxt  # offset changes in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_us(zone, middle) == offsets[-1]:
                    low = middle
                else:
                    high = middle
            bounds.append(high)
            offsets.append(offset)
        position = nxt
    return DaySegments(tuple(bounds), tuple(offsets))


def today(zone: tzinfo) -> date:
    return datetime.now(zone).date()


_DATE_FORMS = (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), re.compile(r"^(\d{4})(\d{2})(\d{2})$"))


def parse_date(text: str) -> date | None:
    """A calendar day written YYYY-MM-DD or YYYYMMDD (ccusage's form); None for anything else."""
    for form in _DATE_FORMS:
        found = form.match(text.strip())
        if found:
            try:
                return date(int(found[1]), int(found[2]), int(found[3]))
            except ValueError:
                return None
    return None

"""What a dashboard view is asked for: the CLI's report window and filters, read from a URL's
query parameters (``tz``, ``since``, ``until``, ``days``, ``year``, ``source``) or built by the
``html`` and ``graph`` commands.

A query names one window of local calendar days in one time zone; ``year`` narrows the window
to that calendar year (as the CLI's ``--year`` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta, tzinfo
from urllib.parse import urlencode

from llmledger.errors import LedgerError
from llmledger.report.aggregate import ReportOptions
from llmledger.report.kinds import ReportKind
from llmledger.report.timezones import parse_date, resolve_zone, today, zone_name

__all__ = ["DashboardQuery", "QueryError", "parse_query"]

_KNOWN = frozenset({"tz", "since", "until", "days", "year", "source"})


class QueryError(LedgerError):
    """A query parameter the dashboard cannot use; the message names it (HTTP 400)."""


@dataclass(frozen=True)
class DashboardQuery:
    zone: tzinfo
    since: date | None = None
    until: date | None = None  # inclusive
    year: int | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)
    # Whose events: empty for all; set by the server from the caller (never from the URL).
    users: tuple[str, ...] = field(default_factory=tuple)

    @property
    def first_day(self) -> date | None:
        """The window's first day: ``since`` within ``year``."""
        if self.year is None:
            return self.since
        start = date(self.year, 1, 1)
        return start if self.since is None else max(self.since, start)

    @property
    def last_day(self) -> date | None:
        if self.year is None:
            return self.until
        end = date(self.year, 12, 31)
        return end if self.until is None else min(self.until, end)

    @property
    def zone_name(self) -> str:
        return zone_name(self.zone)

    def report_options(self, kind: ReportKind, group_by: str | None = None) -> ReportOptions:
        filters: dict[str, tuple[str, ...]] = {}
        if self.sources:
            filters["source"] = self.sources
        if self.users:
            filters["user_id"] = self.users
        return ReportOptions(
            kind=kind,
            zone=self.zone,
            since=self.first_day,
            until=self.last_day,
            filters=filters,
            group_by=group_by,
        )

    def for_year(self, year: int | None) -> DashboardQuery:
        return replace(self, year=year)

    def for_sources(self, sources: Sequence[str]) -> DashboardQuery:
        return replace(self, sources=tuple(sources))

    def for_users(self, users: Sequence[str]) -> DashboardQuery:
        return replace(self, users=tuple(users))

    def window(self, since: date | None, until: date | None) -> DashboardQuery:
        """The same zone, sources and users over other days (no year)."""
        return replace(self, since=since, until=until, year=None)

    def params(self) -> dict[str, str | list[str]]:
        """The query as URL parameters (what ``parse_query`` reads back)."""
        params: dict[str, str | list[str]] = {"tz": self.zone_name}
        if self.since is not None:
            params["since"] = self.since.isoformat()
        if self.until is not None:
            params["until"] = self.until.isoformat()
        if self.year is not None:
            params["year"] = str(self.year)
        if self.sources:
            params["source"] = list(self.sources)
        return params

    def canonical(self, extra: Mapping[str, str] | None = None) -> str:
        """One spelling of the query (and ``extra`` parameters): sorted names, sources in
        order; the page and the ``html`` report key their data by it (static/data.js)."""
        pairs: list[tuple[str, str]] = []
        for name, value in sorted({**self.params(), **(extra or {})}.items()):
            if isinstance(value, list):
                pairs.extend((name, item) for item in value)
            else:
                pairs.append((name, value))
        return urlencode(pairs)


def parse_day(text: str, name: str) -> date:
    day = parse_date(text)
    if day is None:
        raise QueryError(f"{name}={text!r} is not a date: use YYYY-MM-DD or YYYYMMDD")
    return day


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = [v for v in params.get(name, ()) if v.strip()]
    if len(values) > 1:
        raise QueryError(f"{name} is given {len(values)} times; give it once")
    return values[0].strip() if values else None


def _whole(text: str, name: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,6}", text):
        raise QueryError(f"{name}={text!r} is not a whole number")
    value = int(text)
    if not low <= value <= high:
        raise QueryError(f"{name}={value} is out of range ({low}-{high})")
    return value


def parse_query(
    params: Mapping[str, Sequence[str]], default_zone: tzinfo, *, extra: Sequence[str] = ()
) -> DashboardQuery:
    """A query from URL parameters (each name mapped to its values). Unknown names, bad dates
    and unknown zones are QueryErrors naming the parameter; ``extra`` names parameters the
    caller reads itself."""
    unknown = sorted(set(params) - _KNOWN - set(extra))
    if unknown:
        known = ", ".join(sorted(_KNOWN | set(extra)))
        raise QueryError(f"unknown parameter {unknown[0]!r}; known: {known}")
    tz = _one(params, "tz")
    try:
        zone = resolve_zone(tz) if tz else default_zone
    except LedgerError as exc:
        raise QueryError(f"tz: {exc}") from None
    since_text, until_text = _one(params, "since"), _one(params, "until")
    since = parse_day(since_text, "since") if since_text else None
    until = parse_day(until_text, "until") if until_text else None
    days_text = _one(params, "days")
    if days_text is not None:
        if since or until:
            raise QueryError("days counts back from today: give it without since/until")
        days = _whole(days_text, "days", 1, 100_000)
        until = today(zone)
        since = until - timedelta(days=days - 1)
    year_text = _one(params, "year")
    year = _whole(year_text, "year", 1970, 9999) if year_text else None
    if since and until and since > until:
        raise QueryError(f"since {since} is after until {until}")
    sources = tuple(dict.fromkeys(s.strip() for s in params.get("source", ()) if s.strip()))
    return DashboardQuery(zone=zone, since=since, until=until, year=year, sources=sources)

"""Build reports (daily, weekly, monthly, models, sessions) from a store's grouped sums.

The store sums by (local day, model[, group]) in SQL; this module folds those small results into
report rows. Every report keeps per-model totals per row (for ``--breakdown`` and
``modelBreakdowns``) and lists the models it could not price.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Protocol

import msgspec

from llmledger.query import DIMENSIONS, DaySegments, EventFilter, GroupRow, Totals
from llmledger.report.kinds import ReportKind as ReportKind  # re-exported: Ledger.report_for
from llmledger.report.timezones import (
    day_from_number,
    day_segments,
    local_midnight_us,
    zone_name,
)

GROUP_BY_CHOICES: dict[str, str] = {
    "user": "user",
    "org": "org",
    "account": "account",
    "project": "project",
    "source": "source",
    "model": "model",
    "provider": "provider",
    "api_key": "api_key",
    "request_type": "request_type",
    "host": "host",
}


class AggregatingStore(Protocol):
    def time_span(self, flt: EventFilter | None = None) -> tuple[int, int] | None: ...

    def aggregate(
        self, flt: EventFilter, dims: list[str], segments: DaySegments | None = None
    ) -> list[GroupRow]: ...

    def unpriced_models(self, flt: EventFilter) -> list[str]: ...


# msgspec Structs, not dataclasses: every report loads this module, and a dataclass costs
# ~3.5 M instructions to create at import (a Struct ~0.1 M).
class ReportOptions(msgspec.Struct, frozen=True):
    kind: ReportKind = "daily"
    zone: tzinfo = timezone.utc
    since: date | None = None
    until: date | None = None  # inclusive
    filters: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)  # column -> values
    group_by: str | None = None
    breakdown: bool = False

    def event_filter(self) -> EventFilter:
        since_us = None if self.since is None else local_midnight_us(self.since, self.zone)
        until_us = None
        if self.until is not None:
            until_us = local_midnight_us(self.until + timedelta(days=1), self.zone)
        return EventFilter(since_us, until_us, {k: tuple(v) for k, v in self.filters.items() if v})


class ReportRow(msgspec.Struct):
    key: str
    group: str | None
    totals: Totals
    models: dict[str, Totals]
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class Report(msgspec.Struct):
    kind: ReportKind
    options: ReportOptions
    rows: list[ReportRow]
    totals: Totals
    unpriced_models: list[str]

    @property
    def zone_name(self) -> str:
        return zone_name(self.options.zone)


def _period_key(kind: ReportKind, day: date) -> str:
    if kind == "weekly":
        return (day - timedelta(days=day.weekday())).isoformat()  # weeks start on Monday
    if kind == "monthly":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def build_report(store: AggregatingStore, options: ReportOptions) -> Report:
    flt = options.event_filter()
    group_dim = GROUP_BY_CHOICES[options.group_by] if options.group_by else None
    rows: dict[tuple[str, str | None], ReportRow] = {}
    grand = Totals()

    def add(key: str, group: str | None, model: str, totals: Totals) -> ReportRow:
        """Fold one store group in; ``totals`` (the store's, used once) may become the row's
        per-model entry, so a row seen for the first time costs one copy, not two sums."""
        grand.add(totals)
        row = rows.get((key, group))
        if row is None:
            row = rows[(key, group)] = ReportRow(key, group, totals.copy(), {model: totals})
            return row
        row.totals.add(totals)
        per_model = row.models.get(model)
        if per_model is None:
            row.models[model] = totals
        else:
            per_model.add(totals)
        return row

    extra_dims = [group_dim] if group_dim and group_dim != "model" else []
    if options.kind in ("daily", "weekly", "monthly"):
        span = store.time_span(flt)
        if span is not None:
            segments = day_segments(options.zone, span[0], span[1])
            periods: dict[int, str] = {}  # day number -> the period's key (many groups a day)
            for item in store.aggregate(flt, ["day", "model", *extra_dims], segments):
                number = int(item.key["day"])
                period = periods.get(number)
                if period is None:
                    period = periods[number] = _period_key(options.kind, day_from_number(number))
                group = _group_value(item.key, group_dim)
                add(period, group, item.key["model"], item.totals)
    elif options.kind == "models":
        for item in store.aggregate(flt, ["model", *extra_dims]):
            group = _group_value(item.key, group_dim)
            add(str(item.key["model"]), group, item.key["model"], item.totals)
    elif options.kind == "sessions":
        dims = ["session", "source", "project", "model", *extra_dims]
        for item in store.aggregate(flt, dims):
            group = _group_value(item.key, group_dim)
            session = _text(item.key["session"]) or "(no session)"
            row = add(session, group, item.key["model"], item.totals)
            row.extra.setdefault("source", item.key["source"])
            if item.key["project"] and not row.extra.get("project"):
                row.extra["project"] = item.key["project"]
    else:  # pragma: no cover - guarded by the CLI
        raise ValueError(f"unknown report kind {options.kind!r}")

    ordered = sorted(rows.values(), key=lambda r: _sort_key(options.kind, r))
    for row in ordered:
        if row.totals.last_ts is not None:
            last = datetime.fromtimestamp(row.totals.last_ts / 1_000_000, options.zone)
            row.extra["lastActivity"] = last.isoformat(timespec="seconds")
    return Report(options.kind, options, ordered, grand, store.unpriced_models(flt))


def _group_value(key: Mapping[str, Any], group_dim: str | None) -> str | None:
    if group_dim is None:
        return None
    value = key.get(group_dim)
    return "(none)" if value is None else str(value)


def _sort_key(kind: ReportKind, row: ReportRow) -> tuple[Any, ...]:
    if kind == "models":
        return (-row.totals.cost_nanos, -row.totals.total_tokens, row.key, row.group or "")
    if kind == "sessions":
        return (row.totals.last_ts or 0, row.key, row.group or "")
    return (row.key, row.group or "")


def dimension_names() -> list[str]:
    return sorted(DIMENSIONS)

"""A year's figures for the card, from the ledger: totals, top models and agents, the busiest
day, the longest streak of active days, and every day's cost for the contribution graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any

import msgspec

from llmledger.ledger import Ledger
from llmledger.report.aggregate import ReportOptions
from llmledger.web.levels import quartile_levels
from llmledger.web.streaks import longest_streak

TOP = 3


@dataclass
class Ranked:
    name: str
    tokens: int
    cost_nanos: int


@dataclass
class YearInReview:
    year: int
    zone: str
    tokens: int = 0
    cost_nanos: int = 0
    calls: int = 0
    active_days: int = 0
    models: list[Ranked] = field(default_factory=list)
    agents: list[Ranked] = field(default_factory=list)
    busiest: tuple[date, int, int] | None = None  # (day, tokens, cost)
    longest_streak: int = 0
    days: dict[date, tuple[int, int]] = field(default_factory=dict)  # day -> (tokens, cost)

    def levels(self) -> dict[date, int]:
        """Each day of the year's graph level (0-4), by quartiles of the active days' tokens."""
        ordered = sorted(self.days)
        levels = quartile_levels([self.days[day][0] for day in ordered])
        return dict(zip(ordered, levels))

    def as_json(self) -> dict[str, Any]:
        def ranked(items: list[Ranked]) -> list[dict[str, Any]]:
            return [
                {"name": r.name, "tokens": r.tokens, "costUSD": r.cost_nanos / 1e9} for r in items
            ]

        busiest = None
        if self.busiest is not None:
            day, tokens, cost = self.busiest
            busiest = {"date": day.isoformat(), "tokens": tokens, "costUSD": cost / 1e9}
        return {
            "year": self.year,
            "timezone": self.zone,
            "tokens": self.tokens,
            "costUSD": self.cost_nanos / 1e9,
            "calls": self.calls,
            "activeDays": self.active_days,
            "topModels": ranked(self.models),
            "topAgents": ranked(self.agents),
            "busiestDay": busiest,
            "longestStreak": self.longest_streak,
        }


def _ranked(ledger: Ledger, options: ReportOptions, group_by: str | None) -> list[Ranked]:
    kind_options = msgspec.structs.replace(options, kind="models", group_by=group_by)
    report = ledger.build_report(kind_options)
    rows: dict[str, Ranked] = {}
    for row in report.rows:
        name = (row.group if group_by else row.key) or "unknown"
        found = rows.setdefault(name, Ranked(name, 0, 0))
        found.tokens += row.totals.total_tokens
        found.cost_nanos += row.totals.cost_nanos
    return sorted(rows.values(), key=lambda r: (-r.cost_nanos, -r.tokens, r.name))[:TOP]


def year_in_review(ledger: Ledger, year: int, zone: tzinfo) -> YearInReview:
    from llmledger.report.timezones import zone_name

    options = ReportOptions(
        kind="daily", zone=zone, since=date(year, 1, 1), until=date(year, 12, 31)
    )
    daily = ledger.build_report(options)
    review = YearInReview(year=year, zone=zone_name(zone))
    day = date(year, 1, 1)
    while day.year == year:
        review.days[day] = (0, 0)
        day += timedelta(days=1)
    for row in daily.rows:
        moment = date.fromisoformat(row.key)
        review.days[moment] = (row.totals.total_tokens, row.totals.cost_nanos)
    totals = daily.totals
    review.tokens, review.cost_nanos, review.calls = (
        totals.total_tokens,
        totals.cost_nanos,
        totals.requests,
    )
    active = [d for d, (tokens, _) in review.days.items() if tokens > 0]
    review.active_days = len(active)
    review.longest_streak = longest_streak(active)
    if active:
        busiest = max(active, key=lambda d: (review.days[d][0], review.days[d][1]))
        review.busiest = (busiest, *review.days[busiest])
    review.models = _ranked(ledger, options, None)
    review.agents = _ranked(ledger, options, "source")
    return review

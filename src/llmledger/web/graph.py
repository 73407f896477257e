"""The contribution graph's data, in tokscale's ``graph`` export shape: ``meta``, ``summary``,
``years`` and ``contributions[]`` (one per day with usage: ``date``, ``totals``,
``intensity``, ``tokenBreakdown``, and ``sources[]``, one entry per source and model). The
dashboard's graph endpoint and ``llmledger graph --output`` both write it.

Where ours differs from tokscale's, and what it adds:

* ``intensity`` (0-4) ranks a day by cost among the active days of its calendar year by
  quartiles (``levels.py``), not by its ratio to the maximum; ``tokenIntensity`` is the same
  by tokens.
* ``tokenBreakdown.output`` is output without reasoning, so the five parts add up to
  ``totals.tokens`` (= ``totalTokens`` of ``llmledger daily --json``); ``source`` is the
  ledger's source name (``claude-code``, ``codex``, ``proxy``, …).
* extras: ``sources[].unpricedMessages``; ``summary.unpricedModels``,
  ``summary.maxTokensInSingleDay`` and ``summary.stats`` (streaks, busiest day, favourite
  model), the same ``stats`` per year; ``meta.timezone``, ``meta.availableYears``,
  ``meta.availableSources`` and ``meta.sources`` (the filter).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo

import msgspec

from llmledger import __version__
from llmledger.events import nanos_to_usd
from llmledger.ledger import Ledger
from llmledger.query import EventFilter, Totals
from llmledger.report.aggregate import Report
from llmledger.report.timezones import today
from llmledger.web.levels import quartile_levels
from llmledger.web.query import DashboardQuery
from llmledger.web.streaks import current_streak, longest_streak

__all__ = [
    "Catalog",
    "DailyContribution",
    "GraphData",
    "build_graph",
    "encode_graph",
    "graph_from_report",
    "read_catalog",
]


class _Shape(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """camelCase JSON fields, as tokscale writes them."""


class TokenBreakdown(_Shape):
    input: int
    output: int  # without reasoning: the five parts add up to the total
    cache_read: int
    cache_write: int
    reasoning: int


class DayTotals(_Shape):
    tokens: int
    cost: float
    messages: int


class SourceContribution(_Shape):
    source: str
    model_id: str
    tokens: TokenBreakdown
    cost: float
    messages: int
    provider_id: str | None = None
    unpriced_messages: int = 0


class DailyContribution(_Shape):
    date: str
    totals: DayTotals
    intensity: int  # by cost
    token_intensity: int
    token_breakdown: TokenBreakdown
    sources: list[SourceContribution]


class DateRange(_Shape):
    start: str
    end: str


class DayHighlight(_Shape):
    date: str
    tokens: int
    cost: float


class ModelHighlight(_Shape):
    model: str
    tokens: int
    cost: float


class BusiestDay(_Shape):
    cost: DayHighlight | None = None
    tokens: DayHighlight | None = None


class FavouriteModel(_Shape):
    cost: ModelHighlight | None = None
    tokens: ModelHighlight | None = None


class Stats(_Shape):
    active_days: int
    current_streak: int
    longest_streak: int
    busiest_day: BusiestDay
    favourite_model: FavouriteModel


class YearSummary(_Shape):
    year: str
    total_tokens: int
    total_cost: float
    range: DateRange
    stats: Stats


class DataSummary(_Shape):
    total_tokens: int
    total_cost: float
    total_days: int
    active_days: int
    average_per_day: float
    max_cost_in_single_day: float
    max_tokens_in_single_day: int
    sources: list[str]
    models: list[str]
    unpriced_models: list[str]
    stats: Stats


class ExportMeta(_Shape):
    generated_at: str
    version: str
    date_range: DateRange
    timezone: str
    sources: list[str]  # the source filter; empty: every source
    available_years: list[int]
    available_sources: list[str]


class GraphData(_Shape):
    meta: ExportMeta
    summary: DataSummary
    years: list[YearSummary]
    contributions: list[DailyContribution]


# -- building it -------------------------------------------------------------------------------


def _usd(nanos: int) -> float:
    return float(nanos_to_usd(nanos))


def token_breakdown(t: Totals) -> TokenBreakdown:
    reasoning = min(t.reasoning_tokens, t.output_tokens)
    return TokenBreakdown(
        input=t.input_tokens,
        output=t.output_tokens - reasoning,
        cache_read=t.cache_read_tokens,
        cache_write=t.cache_creation_tokens,
        reasoning=reasoning,
    )


@dataclass
class _Day:
    day: date
    totals: Totals = field(default_factory=Totals)
    models: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    entries: list[SourceContribution] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.totals.total_tokens > 0 or self.totals.cost_nanos > 0


@dataclass(frozen=True)
class Window:
    """What the graph covers: the query's days (None: as far as the data goes), the day the
    current streak is counted back from, and the zone's name."""

    first: date | None
    last: date | None
    today: date
    timezone: str
    sources: tuple[str, ...] = ()
    available_years: tuple[int, ...] = ()
    available_sources: tuple[str, ...] = ()


def _days(report: Report, providers: Mapping[str, str]) -> list[_Day]:
    days: dict[str, _Day] = {}
    for row in report.rows:
        entry = days.get(row.key)
        if entry is None:
            entry = days[row.key] = _Day(date.fromisoformat(row.key))
        entry.totals.add(row.totals)
        for model in sorted(row.models):
            totals = row.models[model]
            entry.models[model].add(totals)
            entry.entries.append(
                SourceContribution(
                    source=row.group or "(none)",
                    model_id=model,
                    provider_id=providers.get(model),
                    tokens=token_breakdown(totals),
                    cost=_usd(totals.cost_nanos),
                    messages=totals.requests,
                    unpriced_messages=totals.unpriced,
                )
            )
    return sorted(days.values(), key=lambda d: d.day)


def _stats(days: Sequence[_Day], as_of: date) -> Stats:
    active = {d.day for d in days if d.active}
    busiest = BusiestDay()
    if active:
        by_cost = max(days, key=lambda d: (d.totals.cost_nanos, d.totals.total_tokens))
        by_tokens = max(days, key=lambda d: (d.totals.total_tokens, d.totals.cost_nanos))
        busiest = BusiestDay(cost=_day_highlight(by_cost), tokens=_day_highlight(by_tokens))
    models: dict[str, Totals] = defaultdict(Totals)
    for day in days:
        for model, totals in day.models.items():
            models[model].add(totals)
    favourite = FavouriteModel()
    if models:
        cost_first = max(models.items(), key=lambda m: (m[1].cost_nanos, m[1].total_tokens, m[0]))
        tokens_first = max(models.items(), key=lambda m: (m[1].total_tokens, m[1].cost_nanos, m[0]))
        favourite = FavouriteModel(
            cost=_model_highlight(*cost_first), tokens=_model_highlight(*tokens_first)
        )
    return Stats(
        active_days=len(active),
        current_streak=current_streak(active, as_of),
        longest_streak=longest_streak(active),
        busiest_day=busiest,
        favourite_model=favourite,
    )


def _day_highlight(day: _Day) -> DayHighlight:
    return DayHighlight(
        date=day.day.isoformat(),
        tokens=day.totals.total_tokens,
        cost=_usd(day.totals.cost_nanos),
    )


def _model_highlight(model: str, sums: Totals) -> ModelHighlight:
    return ModelHighlight(model=model, tokens=sums.total_tokens, cost=_usd(sums.cost_nanos))


def _as_of(window: Window, year: int | None = None) -> date:
    candidates = [window.today]
    if window.last is not None:
        candidates.append(window.last)
    if year is not None:
        candidates.append(date(year, 12, 31))
    return min(candidates)


def _contribution(day: _Day, level: int, token_level: int) -> DailyContribution:
    return DailyContribution(
        date=day.day.isoformat(),
        totals=DayTotals(
            tokens=day.totals.total_tokens,
            cost=_usd(day.totals.cost_nanos),
            messages=day.totals.requests,
        ),
        intensity=level,
        token_intensity=token_level,
        token_breakdown=token_breakdown(day.totals),
        sources=day.entries,
    )


def graph_from_report(
    report: Report, window: Window, providers: Mapping[str, str] | None = None
) -> GraphData:
    """The graph of a daily report grouped by source (rows per day and source, models in
    each). ``providers`` names each model's provider where known."""
    days = _days(report, providers or {})
    by_year: dict[int, list[_Day]] = defaultdict(list)
    for day in days:
        by_year[day.day.year].append(day)
    contributions: list[DailyContribution] = []
    years: list[YearSummary] = []
    for year in sorted(by_year):
        in_year = by_year[year]
        cost_levels = quartile_levels([d.totals.cost_nanos for d in in_year])
        token_levels = quartile_levels([d.totals.total_tokens for d in in_year])
        for day, level, token_level in zip(in_year, cost_levels, token_levels):
            contributions.append(_contribution(day, level, token_level))
        year_totals = _sum(in_year)
        years.append(
            YearSummary(
                year=str(year),
                total_tokens=year_totals.total_tokens,
                total_cost=_usd(year_totals.cost_nanos),
                range=DateRange(start=in_year[0].day.isoformat(), end=in_year[-1].day.isoformat()),
                stats=_stats(in_year, _as_of(window, year)),
            )
        )
    unpriced = sorted({m for row in report.rows for m, t in row.models.items() if t.unpriced})
    return GraphData(
        meta=_meta(days, window),
        summary=_summary(days, window, unpriced),
        years=years,
        contributions=contributions,
    )


def only_source(report: Report, source: str) -> Report:
    """A daily report grouped by source, narrowed to one source (the same rows a query for
    that source gives)."""
    return msgspec.structs.replace(report, rows=[row for row in report.rows if row.group == source])


def _sum(days: Iterable[_Day]) -> Totals:
    total = Totals()
    for day in days:
        total.add(day.totals)
    return total


def _summary(days: Sequence[_Day], window: Window, unpriced: Sequence[str]) -> DataSummary:
    total = _sum(days)
    stats = _stats(days, _as_of(window))
    first = window.first or (days[0].day if days else None)
    last = window.last or (days[-1].day if days else None)
    span = (last - first).days + 1 if first and last and last >= first else 0
    active = stats.active_days
    return DataSummary(
        total_tokens=total.total_tokens,
        total_cost=_usd(total.cost_nanos),
        total_days=span,
        active_days=active,
        average_per_day=_usd(total.cost_nanos // active) if active else 0.0,
        max_cost_in_single_day=_usd(max((d.totals.cost_nanos for d in days), default=0)),
        max_tokens_in_single_day=max((d.totals.total_tokens for d in days), default=0),
        sources=sorted({e.source for d in days for e in d.entries}),
        models=sorted({e.model_id for d in days for e in d.entries}),
        unpriced_models=list(unpriced),
        stats=stats,
    )


def _meta(days: Sequence[_Day], window: Window) -> ExportMeta:
    now = datetime.now(timezone.utc)
    return ExportMeta(
        generated_at=now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        version=__version__,
        date_range=DateRange(
            start=days[0].day.isoformat() if days else "",
            end=days[-1].day.isoformat() if days else "",
        ),
        timezone=window.timezone,
        sources=list(window.sources),
        available_years=list(window.available_years),
        available_sources=list(window.available_sources),
    )


# -- from a ledger -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """What the ledger holds over all time, from one grouped read: its sources (with the
    first and last instant of each), and each model's provider."""

    spans: Mapping[str, tuple[int, int]]  # source -> (first, last) UTC microseconds
    providers: Mapping[str, str]  # model -> the provider with the most tokens

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted(self.spans))

    def years(self, zone: tzinfo, sources: Sequence[str] = ()) -> tuple[int, ...]:
        """The calendar years in ``zone`` from the first event to the last (of ``sources``)."""
        spans = [span for name, span in self.spans.items() if not sources or name in sources]
        if not spans:
            return ()
        first = datetime.fromtimestamp(min(s[0] for s in spans) / 1_000_000, zone).year
        last = datetime.fromtimestamp(max(s[1] for s in spans) / 1_000_000, zone).year
        return tuple(range(first, last + 1))


def read_catalog(ledger: Ledger, users: Sequence[str] = ()) -> Catalog:
    """The catalog of the whole ledger, or of ``users``' events only."""
    spans: dict[str, tuple[int, int]] = {}
    best: dict[str, tuple[int, str]] = {}
    only = EventFilter(equals={"user_id": tuple(users)}) if users else EventFilter()
    for group in ledger.aggregate(only, ["source", "model", "provider"]):
        source, model, provider = (group.key[k] for k in ("source", "model", "provider"))
        totals = group.totals
        if source is not None and totals.first_ts is not None and totals.last_ts is not None:
            first, last = spans.get(str(source), (totals.first_ts, totals.last_ts))
            spans[str(source)] = (min(first, totals.first_ts), max(last, totals.last_ts))
        if provider is not None and model is not None:
            tokens = totals.total_tokens
            if str(model) not in best or tokens > best[str(model)][0]:
                best[str(model)] = (tokens, str(provider))
    return Catalog(spans, {model: provider for model, (_, provider) in best.items()})


def build_graph(
    ledger: Ledger,
    query: DashboardQuery,
    *,
    on: date | None = None,
    catalog: Catalog | None = None,
) -> GraphData:
    """The graph of ``query``'s window; ``on`` is the day the current streak counts back
    from (default: today in the query's zone); ``catalog`` the ledger's (read when None)."""
    report = ledger.build_report(query.report_options("daily", group_by="source"))
    known = catalog or read_catalog(ledger, query.users)
    window = Window(
        first=query.first_day,
        last=query.last_day,
        today=on or today(query.zone),
        timezone=query.zone_name,
        sources=query.sources,
        available_years=known.years(query.zone, query.sources),
        available_sources=known.sources,
    )
    return graph_from_report(report, window, known.providers)


_encoder = msgspec.json.Encoder()


def encode_graph(graph: GraphData, *, indent: int = 0) -> bytes:
    body = _encoder.encode(graph)
    return msgspec.json.format(body, indent=indent) if indent else body

"""The dashboard's other JSON views, each one encoded body: the daily, models and sessions
reports in ``llmledger daily|models|sessions --json``'s shape (ccusage's field names), the
cache hit ratio per day, the unpriced models, one day's breakdown and the operators' top lists.

The cache hit ratio is the share of the prompt served from the cache:
``cacheReadTokens / (inputTokens + cacheReadTokens + cacheCreationTokens)`` (0 when a day had
no prompt).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

import msgspec

from llmledger.agent_estimates import estimate_windows
from llmledger.agent_windows import current_windows
from llmledger.ledger import Ledger
from llmledger.query import Totals
from llmledger.report.aggregate import Report
from llmledger.report.kinds import ReportKind
from llmledger.report.render.jsonout import report_data, totals_fields
from llmledger.report.timezones import zone_name
from llmledger.web.graph import Catalog, GraphData, build_graph
from llmledger.web.query import DashboardQuery

__all__ = [
    "TOP_DIMENSIONS",
    "cache_json",
    "daily_json",
    "day_json",
    "limit_windows_json",
    "models_json",
    "recent_window",
    "sessions_json",
    "top_json",
    "unpriced_json",
]

_encode: Callable[[object], bytes] = msgspec.json.Encoder().encode

# The operators' top lists: the dimension's name in URLs -> the ledger's dimension.
TOP_DIMENSIONS: dict[str, str] = {
    "user": "user",
    "api_key": "api_key",
    "account": "account",
    "org": "org",
}
TOP_ROWS = 20
SESSION_ROWS = 200
# Sessions and the top lists read every event of their window (not the hourly sums): the page
# asks for the last days with usage of its window only.
RECENT_DAYS = 31


def cache_hit_ratio(t: Totals) -> float:
    prompt = t.input_tokens + t.cache_read_tokens + t.cache_creation_tokens
    return round(t.cache_read_tokens / prompt, 6) if prompt else 0.0


def _report(
    ledger: Ledger, query: DashboardQuery, kind: ReportKind, group_by: str | None = None
) -> Report:
    return ledger.build_report(query.report_options(kind, group_by))


def daily_json(ledger: Ledger, query: DashboardQuery, group_by: str | None = None) -> bytes:
    """``llmledger daily --json`` (with ``--group-by`` when given), plus ``cacheHitRatio``."""
    report = _report(ledger, query, "daily", group_by)
    data = report_data(report)
    for row, fields in zip(report.rows, data["daily"]):
        fields["cacheHitRatio"] = cache_hit_ratio(row.totals)
    return _encode(data)


def models_json(ledger: Ledger, query: DashboardQuery) -> bytes:
    """``llmledger models --json``: the models, most cost first."""
    return _encode(report_data(_report(ledger, query, "models")))


def sessions_json(ledger: Ledger, query: DashboardQuery, limit: int = SESSION_ROWS) -> bytes:
    """``llmledger sessions --json``'s rows, the ``limit`` latest first, with the count of
    all (``sessionCount``) and the totals of all."""
    report = _report(ledger, query, "sessions")
    count = len(report.rows)
    report.rows.sort(key=lambda row: row.totals.last_ts or 0, reverse=True)
    del report.rows[limit:]
    data = report_data(report)
    data["sessionCount"] = count
    return _encode(data)


def recent_window(graph: GraphData, query: DashboardQuery) -> DashboardQuery | None:
    """The last ``RECENT_DAYS`` days with usage of ``query``'s window, as the page asks for
    sessions and the operators' lists (app.js ``recentParams``); None: no usage."""
    if not graph.contributions:
        return None
    last = date.fromisoformat(graph.contributions[-1].date)
    since = last - timedelta(days=RECENT_DAYS - 1)
    first = query.first_day
    if first is not None and first > since:
        since = first
    return query.window(since, last)


def cache_json(ledger: Ledger, query: DashboardQuery) -> bytes:
    report = _report(ledger, query, "daily")
    days = [
        {
            "date": row.key,
            "inputTokens": row.totals.input_tokens,
            "cacheReadTokens": row.totals.cache_read_tokens,
            "cacheCreationTokens": row.totals.cache_creation_tokens,
            "cacheHitRatio": cache_hit_ratio(row.totals),
        }
        for row in report.rows
    ]
    return _encode(
        {
            "daily": days,
            "cacheHitRatio": cache_hit_ratio(report.totals),
            "timezone": report.zone_name,
        }
    )


def unpriced_json(ledger: Ledger, query: DashboardQuery) -> bytes:
    """The models the price book does not know: their requests and tokens, whose cost is not
    in any total."""
    report = _report(ledger, query, "models")
    rows = [
        {
            "model": row.key,
            "unpricedRequests": row.totals.unpriced,
            "requests": row.totals.requests,
            "totalTokens": row.totals.total_tokens,
        }
        for row in report.rows
        if row.totals.unpriced
    ]
    return _encode({"unpricedModels": rows, "timezone": report.zone_name})


def day_json(
    ledger: Ledger, query: DashboardQuery, day: date, catalog: Catalog | None = None
) -> bytes | None:
    """One day's contribution (by source and model), as in the graph; None: no usage."""
    one_day = query.window(day, day)
    graph = build_graph(ledger, one_day, catalog=catalog)
    return _encode(graph.contributions[0]) if graph.contributions else None


def top_json(ledger: Ledger, query: DashboardQuery, dimension: str, limit: int = TOP_ROWS) -> bytes:
    """The ``limit`` users (keys, accounts, orgs) that cost the most in the window."""
    dim = TOP_DIMENSIONS[dimension]
    groups = ledger.aggregate(query.report_options("daily").event_filter(), [dim])
    groups.sort(key=lambda g: (-g.totals.cost_nanos, -g.totals.total_tokens, str(g.key[dim])))
    rows: list[dict[str, Any]] = [
        {"key": g.key[dim], **totals_fields(g.totals)} for g in groups[:limit]
    ]
    return _encode(
        {"by": dimension, "rows": rows, "groups": len(groups), "timezone": query.zone_name}
    )


def _local(iso: str | None, zone: tzinfo) -> str | None:
    if iso is None:
        return None
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone)
    return moment.isoformat()


def _title(source: str) -> str:
    from llmledger.sources.registry import SOURCES

    found = SOURCES.get(source)
    return found.title if found is not None else source


def limit_windows_json(ledger: Ledger, zone: tzinfo, now_us: int | None = None) -> bytes:
    """Each agent's latest official usage-limit windows and, for the agents active without
    one, the estimate from their current 5-hour block (``llmledger quota --json``'s
    ``windows`` and ``estimates``: agent_windows.current_windows and
    agent_estimates.estimate_windows), with the agent's title and the times in ``zone`` too
    (``resetsAtLocal``, ``forecast.reaches100AtLocal``; ``blockEndLocal``)."""
    if now_us is None:
        now_us = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
    windows = []
    statuses = current_windows(ledger, now_us)
    for status in statuses:
        fields = status.as_json()
        fields["title"] = _title(status.latest.source)
        fields["resetsAtLocal"] = _local(fields["resetsAt"], zone)
        forecast = fields["forecast"]
        forecast["reaches100AtLocal"] = _local(forecast["reaches100At"], zone)
        windows.append(fields)
    estimates = []
    for estimate in estimate_windows(ledger, {s.latest.source for s in statuses}, now_us):
        fields = estimate.as_json()
        fields["title"] = _title(estimate.source)
        fields["blockEndLocal"] = _local(fields["blockEnd"], zone)
        estimates.append(fields)
    now = datetime.fromtimestamp(now_us // 1_000_000, timezone.utc)
    return _encode(
        {
            "windows": windows,
            "estimates": estimates,
            "timezone": zone_name(zone),
            "now": now.isoformat().replace("+00:00", "Z"),
        }
    )

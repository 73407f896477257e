"""``llmledger html``: the dashboard as ONE file that opens from disk with no server.

The file holds the page, its styles and scripts inlined, and the answers of the views the page
asks for, keyed as the page asks (``DashboardQuery.canonical``): the graph of every year in the
window, and the sessions of its last 31 days with usage (and the operators' lists with
``admin``), for all sources and for each source; and the agents' official limit windows (and
the estimates for agents without one) as they stood when it was written. The time zone and
dates are fixed when it is written; the year and the source can be switched in the file.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import msgspec

from llmledger import __version__
from llmledger.ledger import Ledger
from llmledger.report.timezones import today
from llmledger.web.graph import (
    Catalog,
    Window,
    encode_graph,
    graph_from_report,
    only_source,
    read_catalog,
)
from llmledger.web.page import PageConfig, StaticQuery, render_page
from llmledger.web.query import DashboardQuery
from llmledger.web.views import (
    TOP_DIMENSIONS,
    limit_windows_json,
    recent_window,
    sessions_json,
    top_json,
)

__all__ = ["report_file", "report_years"]


def report_years(catalog: Catalog, base: DashboardQuery, on: date) -> list[int]:
    """The years the file holds: those with events inside the window (this year when none)."""
    first, last = base.first_day, base.last_day
    years = [
        year
        for year in catalog.years(base.zone, base.sources)
        if (first is None or year >= first.year) and (last is None or year <= last.year)
    ]
    if years:
        return years
    if last is not None:
        return [last.year]
    return [on.year if first is None else first.year]


def _selectable_sources(catalog: Catalog, base: DashboardQuery) -> list[str]:
    if len(base.sources) == 1:
        return []  # the file is about one source: nothing to switch
    return list(base.sources) or list(catalog.sources)


def report_file(ledger: Ledger, base: DashboardQuery, *, admin: bool = False) -> str:
    """The HTML of the report over ``base`` (its zone, dates and sources)."""
    on = today(base.zone)
    catalog = read_catalog(ledger)
    years = report_years(catalog, base, on)
    sources = _selectable_sources(catalog, base)
    views: dict[str, msgspec.Raw] = {}
    for year in years:
        query = base.for_year(year)
        report = ledger.build_report(query.report_options("daily", group_by="source"))
        for source in ["", *sources]:
            # The page asks with its own parameters: no source, or the one picked.
            asked = DashboardQuery(
                zone=base.zone,
                since=base.since,
                until=base.until,
                year=year,
                sources=(source,) if source else (),
            )
            narrowed = query.for_sources((source,)) if source else query
            window = Window(
                first=narrowed.first_day,
                last=narrowed.last_day,
                today=on,
                timezone=base.zone_name,
                sources=narrowed.sources,
                available_years=tuple(years),
                available_sources=catalog.sources,
            )
            part = only_source(report, source) if source else report
            graph = graph_from_report(part, window, catalog.providers)
            views[f"graph?{asked.canonical()}"] = msgspec.Raw(encode_graph(graph))
            recent = recent_window(graph, narrowed)
            if recent is None:
                continue
            # Asked as the page asks (app.js recentParams): the window's last days, no year.
            key = replace(asked, since=recent.since, until=recent.until, year=None).canonical()
            views[f"sessions?{key}"] = msgspec.Raw(sessions_json(ledger, recent))
            if admin:
                for by in TOP_DIMENSIONS:
                    by_key = replace(asked, since=recent.since, until=recent.until, year=None)
                    views[f"admin/top?{by_key.canonical({'by': by})}"] = msgspec.Raw(
                        top_json(ledger, recent, by)
                    )
    # The agents' limit windows as the page asks for them (panel-limits.js: the zone only).
    limits = DashboardQuery(zone=base.zone).canonical()
    views[f"limit-windows?{limits}"] = msgspec.Raw(limit_windows_json(ledger, base.zone))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    config = PageConfig(
        version=__version__,
        default_timezone=base.zone_name,
        today=on.isoformat(),
        admin=admin,
        static=True,
        query=StaticQuery(
            tz=base.zone_name,
            since=base.since.isoformat() if base.since else None,
            until=base.until.isoformat() if base.until else None,
        ),
        years=years,
        sources=sources,
        initial_year=years[-1],
        generated_at=now.isoformat().replace("+00:00", "Z"),
    )
    html, _ = render_page(config, msgspec.json.encode({"views": views}))
    return html

"""Reports as terminal tables: thousands separators, a TOTAL row, the request count, cache
columns and cost where the data has them, and a compact layout when the terminal is narrow."""

from __future__ import annotations

import textwrap

from llmledger.events import nanos_to_usd
from llmledger.report.aggregate import Report, ReportRow
from llmledger.report.render.table import Column, Style, Table, render
from llmledger.store.query import Totals

KEY_HEADERS = {
    "daily": "Date",
    "weekly": "Week",
    "monthly": "Month",
    "models": "Model",
    "sessions": "Session",
}
GROUP_HEADERS = {
    "user": "User",
    "org": "Org",
    "account": "Account",
    "project": "Project",
    "source": "Source",
    "model": "Model",
    "provider": "Provider",
    "api_key": "API Key",
    "request_type": "Request Type",
}


def tokens(value: int) -> str:
    return f"{value:,}"


def money(totals: Totals) -> str:
    """Cost with a ``*`` when part of it is unknown; ``unpriced*`` when all of it is."""
    if totals.unpriced and totals.unpriced >= totals.events:
        return "unpriced*"
    text = f"${nanos_to_usd(totals.cost_nanos):,.2f}"
    return text + "*" if totals.unpriced else text


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_report(report: Report, width: int = 80, style: Style | None = None) -> str:
    style = style or Style()
    if not report.rows:
        return "No usage found for the selected period and filters."
    show_cache = bool(report.totals.cache_creation_tokens or report.totals.cache_read_tokens)
    sessions = report.kind == "sessions"
    columns = [Column(KEY_HEADERS[report.kind], "left")]
    if report.options.group_by:
        columns.append(Column(GROUP_HEADERS[report.options.group_by], "left"))
    if sessions:
        columns += [Column("Project", "left", drop_order=3), Column("Last Activity", "left", 4)]
    columns += [Column("Input Tokens"), Column("Output Tokens")]
    if show_cache:
        columns += [Column("Cache Write", drop_order=2), Column("Cache Read", drop_order=2)]
    columns += [Column("Total Tokens"), Column("Cost (USD)")]

    def cells(label: str, row: ReportRow | None, totals: Totals) -> list[str]:
        values = [label]
        if report.options.group_by:
            values.append("" if row is None else row.group or "")
        if sessions:
            project = "" if row is None else str(row.extra.get("project") or "")
            last = "" if row is None else str(row.extra.get("lastActivity", ""))[:16]
            values += [_shorten(project, 32), last.replace("T", " ")]
        values += [tokens(totals.input_tokens), tokens(totals.output_tokens)]
        if show_cache:
            values += [tokens(totals.cache_creation_tokens), tokens(totals.cache_read_tokens)]
        values += [tokens(totals.total_tokens), money(totals)]
        return values

    body: list[list[str]] = []
    dim_rows: set[int] = set()
    key_limit = 40 if sessions else 48
    for row in report.rows:
        body.append(cells(_shorten(row.key, key_limit), row, row.totals))
        if report.options.breakdown and report.kind != "models":
            for model in sorted(row.models):
                dim_rows.add(len(body))
                sub = cells(_shorten(f"  └ {model}", key_limit), None, row.models[model])
                body.append(sub)
    total = cells("TOTAL", None, report.totals)
    table, dropped = render(Table(columns, body, [total], frozenset(dim_rows)), width, style)

    lines = [table, f"Total Requests: {report.totals.requests:,}"]
    if dropped:
        hidden = "Some columns were hidden to fit the terminal; widen it or use --json."
        lines += [style.paint(part, style.dim) for part in textwrap.wrap(hidden, max(width, 40))]
    if report.unpriced_models:
        names = ", ".join(report.unpriced_models)
        note = (
            f"* Unpriced models (their cost is unknown and not included): {names}. "
            "Add prices under [pricing.models] in the config."
        )
        lines += [style.paint(part, style.total) for part in textwrap.wrap(note, max(width, 40))]
    if report.totals.estimated:
        lines.append(f"{report.totals.estimated:,} requests have estimated token counts.")
    return "\n".join(lines)

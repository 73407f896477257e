"""Reports as terminal tables: thousands separators, a TOTAL row, the request count, cache
columns and cost where the data has them, and a compact layout when the terminal is narrow
(names shortened in the middle, then optional columns left out). Names are never cut here:
the table cuts them to the width it gives their column."""

from __future__ import annotations

from llmledger.events import nanos_to_usd
from llmledger.query import Totals
from llmledger.report.aggregate import Report, ReportRow
from llmledger.report.kinds import KINDS
from llmledger.report.render.cells import wrap
from llmledger.report.render.table import Column, Style, Table, render

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
    "host": "Host",
}


def tokens(value: int) -> str:
    return f"{value:,}"


def money(totals: Totals) -> str:
    """Cost with a ``*`` when part of it is unknown; ``unpriced*`` when all of it is."""
    if totals.unpriced and totals.unpriced >= totals.events:
        return "unpriced*"
    text = f"${nanos_to_usd(totals.cost_nanos):,.2f}"
    return text + "*" if totals.unpriced else text


# How narrow a name column may get before optional columns are dropped instead.
NAME_MIN = 20
PROJECT_MIN = 16
GROUP_MIN = 12


def render_report(report: Report, width: int | None = 80, style: Style | None = None) -> str:
    """The report's table and footnotes, at most ``width`` cells wide (``None``: the table's
    natural width, for output that is not a terminal)."""
    style = style or Style()
    if not report.rows:
        return "No usage found for the selected period and filters."
    show_cache = bool(report.totals.cache_creation_tokens or report.totals.cache_read_tokens)
    sessions = report.kind == "sessions"
    columns = [Column(KINDS[report.kind].key_header, "left", min_width=NAME_MIN)]
    if report.options.group_by:
        columns.append(Column(GROUP_HEADERS[report.options.group_by], "left", min_width=GROUP_MIN))
    if sessions:
        columns += [
            Column("Project", "left", drop_order=3, min_width=PROJECT_MIN),
            Column("Last Activity", "left", drop_order=4),
        ]
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
            values += [project, last.replace("T", " ")]
        values += [tokens(totals.input_tokens), tokens(totals.output_tokens)]
        if show_cache:
            values += [tokens(totals.cache_creation_tokens), tokens(totals.cache_read_tokens)]
        values += [tokens(totals.total_tokens), money(totals)]
        return values

    body: list[list[str]] = []
    dim_rows: set[int] = set()
    for row in report.rows:
        body.append(cells(row.key, row, row.totals))
        if report.options.breakdown and report.kind != "models":
            for model in sorted(row.models):
                dim_rows.add(len(body))
                body.append(cells(f"  └ {model}", None, row.models[model]))
    total = cells("TOTAL", None, report.totals)
    table, dropped = render(Table(columns, body, [total], frozenset(dim_rows)), width, style)

    lines = [table, f"Total Requests: {report.totals.requests:,}"]
    if dropped:
        hidden = "Some columns were hidden to fit the terminal; widen it or use --json."
        lines += [style.paint(part, style.dim) for part in wrap(hidden, _note_width(width))]
    if report.unpriced_models:
        names = ", ".join(report.unpriced_models)
        note = (
            f"* Unpriced models (their cost is unknown and not included): {names}. "
            "Add prices under [pricing.models] in the config."
        )
        lines += [style.paint(part, style.total) for part in wrap(note, _note_width(width))]
    if report.totals.estimated:
        lines.append(f"{report.totals.estimated:,} requests have estimated token counts.")
    return "\n".join(lines)


def _note_width(width: int | None) -> int | None:
    return None if width is None else max(width, 40)

"""Reports as CSV: one line per row (per row and model with ``--breakdown``), the JSON's field
names as the header, costs as plain decimals."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from llmledger.report.aggregate import Report
from llmledger.report.kinds import KINDS
from llmledger.report.render.jsonout import GROUP_FIELDS, totals_fields

CSV_TOTAL_FIELDS = [
    "inputTokens",
    "outputTokens",
    "cacheCreationTokens",
    "cacheReadTokens",
    "totalTokens",
    "totalCost",
    "reasoningTokens",
    "cacheWrite1hTokens",
    "requests",
    "unpricedRequests",  # requests whose model has no price: not in totalCost (never $0)
]
# A session's own columns, after its id (as in the JSON).
CSV_SESSION_FIELDS = ["source", "projectPath", "lastActivity"]


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: costs as plain decimals (never ``4.5e-05``), flags as
    ``true``/``false`` as in the JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.9f}".rstrip("0").rstrip(".") or "0"
    return value


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue()


def render_csv(report: Report) -> str:
    """One line per row (per row and model with ``--breakdown``), then no totals line:
    spreadsheets sum columns themselves. Sessions also carry their source, project and last
    activity."""
    key_field = KINDS[report.kind].key_field
    sessions = report.kind == "sessions"
    header = [key_field, *(CSV_SESSION_FIELDS if sessions else ())]
    if report.options.group_by:
        header.append(GROUP_FIELDS[report.options.group_by])
    header.append("model" if report.options.breakdown else "models")
    header += CSV_TOTAL_FIELDS
    lines: list[list[Any]] = []
    for row in report.rows:
        prefix: list[Any] = [row.key]
        if sessions:
            prefix += [
                row.extra.get("source"),
                row.extra.get("project"),
                row.extra.get("lastActivity"),
            ]
        if report.options.group_by:
            prefix.append(row.group)
        if report.options.breakdown:
            for model in sorted(row.models):
                fields = totals_fields(row.models[model])
                lines.append([*prefix, model, *(fields[f] for f in CSV_TOTAL_FIELDS)])
        else:
            fields = totals_fields(row.totals)
            models = " ".join(sorted(row.models))
            lines.append([*prefix, models, *(fields[f] for f in CSV_TOTAL_FIELDS)])
    return csv_text(header, lines)

"""Reports as JSON and CSV, with ccusage's camelCase field names so existing scripts keep
working (``inputTokens``, ``cacheCreationTokens``, ``totalCost``, ``modelBreakdowns``…) plus
extras (``reasoningTokens``, ``cacheWrite1hTokens``, ``requests``, ``unpricedModels``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import msgspec

from llmledger.events import nanos_to_usd
from llmledger.query import Totals
from llmledger.report.aggregate import Report, ReportRow

KEY_FIELDS = {
    "daily": "date",
    "weekly": "week",
    "monthly": "month",
    "models": "model",
    "sessions": "sessionId",
}
GROUP_FIELDS = {
    "user": "userId",
    "org": "orgId",
    "account": "account",
    "project": "project",
    "source": "source",
    "model": "model",
    "provider": "provider",
    "api_key": "apiKeyId",
    "request_type": "requestType",
}


def cost_number(nanos: int) -> float:
    """USD as a JSON number; exact to the nano-dollar in its decimal representation."""
    return float(nanos_to_usd(nanos))


def totals_fields(t: Totals) -> dict[str, Any]:
    return {
        "inputTokens": t.input_tokens,
        "outputTokens": t.output_tokens,
        "cacheCreationTokens": t.cache_creation_tokens,
        "cacheReadTokens": t.cache_read_tokens,
        "totalTokens": t.total_tokens,
        "totalCost": cost_number(t.cost_nanos),
        "reasoningTokens": t.reasoning_tokens,
        "cacheWrite1hTokens": t.cache_write_1h_tokens,
        "requests": t.requests,
        "unpricedRequests": t.unpriced,
        "estimatedRequests": t.estimated,
    }


def _breakdown(model: str, t: Totals) -> dict[str, Any]:
    return {
        "modelName": model,
        "inputTokens": t.input_tokens,
        "outputTokens": t.output_tokens,
        "cacheCreationTokens": t.cache_creation_tokens,
        "cacheReadTokens": t.cache_read_tokens,
        "totalTokens": t.total_tokens,
        "cost": cost_number(t.cost_nanos),
        "reasoningTokens": t.reasoning_tokens,
        "requests": t.requests,
        "priced": t.unpriced == 0,
    }


def row_fields(report: Report, row: ReportRow) -> dict[str, Any]:
    data: dict[str, Any] = {KEY_FIELDS[report.kind]: row.key}
    if report.options.group_by:
        data[GROUP_FIELDS[report.options.group_by]] = row.group
    data.update(totals_fields(row.totals))
    if report.kind == "sessions":
        data["source"] = row.extra.get("source")
        data["projectPath"] = row.extra.get("project")
    if "lastActivity" in row.extra:
        data["lastActivity"] = row.extra["lastActivity"]
    models = sorted(row.models)
    data["modelsUsed"] = models
    data["modelBreakdowns"] = [_breakdown(m, row.models[m]) for m in models]
    data["unpricedModels"] = [m for m in models if row.models[m].unpriced]
    return data


def report_data(report: Report) -> dict[str, Any]:
    return {
        report.kind: [row_fields(report, row) for row in report.rows],
        "totals": totals_fields(report.totals),
        "unpricedModels": report.unpriced_models,
        "timezone": report.zone_name,
    }


def render_json(report: Report) -> str:
    return msgspec.json.format(msgspec.json.encode(report_data(report)), indent=2).decode()


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
    key_field = KEY_FIELDS[report.kind]
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

"""Reports as JSON and CSV, with ccusage's camelCase field names so existing scripts keep
working (``inputTokens``, ``cacheCreationTokens``, ``totalCost``, ``modelBreakdowns``…) plus
extras (``reasoningTokens``, ``cacheWrite1hTokens``, ``requests``, ``unpricedModels``)."""

from __future__ import annotations

from typing import Any

import msgspec

from llmledger.events import nanos_to_usd
from llmledger.query import Totals
from llmledger.report.aggregate import Report, ReportRow
from llmledger.report.kinds import KINDS

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
    "host": "host",
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
    data: dict[str, Any] = {KINDS[report.kind].key_field: row.key}
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

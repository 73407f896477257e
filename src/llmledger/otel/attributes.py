"""The GenAI semantic conventions for a UsageEvent, both ways (pure functions).

The convention's ``gen_ai.usage.input_tokens`` INCLUDES cached input: it is our fresh input
plus cache reads plus cache writes. ``gen_ai.usage.cache_read.input_tokens`` and
``gen_ai.usage.cache_creation.input_tokens`` are the parts; reading back, fresh input is the
total minus both (never below zero). Our cost and attribution travel as ``llmledger.*``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from llmledger.events import UsageEvent

AttributeValue = str | bool | int | float | Sequence[str]

__all__ = [
    "TOKEN_USAGE_BUCKETS",
    "AttributeValue",
    "event_attributes",
    "metric_attributes",
    "operation_name",
    "span_name",
]

# The histogram's bucket boundaries the convention advises for gen_ai.client.token.usage.
TOKEN_USAGE_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

# Our request types / the API a capture saw -> gen_ai.operation.name.
_OPERATIONS = {
    "embeddings": "embeddings",
    "embedding": "embeddings",
    "completions": "text_completion",
    "text_completion": "text_completion",
    "responses": "chat",
    "chat": "chat",
    "messages": "chat",
}

# Attribution and outcome: event field -> attribute (strings unless said).
_ATTRIBUTION = (
    "user_id",
    "org_id",
    "account",
    "api_key_id",
    "session_id",
    "project",
    "request_type",
    "status",
)


def operation_name(event: UsageEvent) -> str:
    api = (event.details or {}).get("api")
    for hint in (api, event.request_type):
        if isinstance(hint, str) and hint in _OPERATIONS:
            return _OPERATIONS[hint]
    return "chat"


def span_name(event: UsageEvent) -> str:
    """``{gen_ai.operation.name} {gen_ai.request.model}``, as the convention names spans."""
    return f"{operation_name(event)} {_request_model(event)}"


def _request_model(event: UsageEvent) -> str:
    """The model the client asked for (the gateway keeps it in ``details`` when an alias or
    a glob answered with another), else the one that answered."""
    requested = (event.details or {}).get("requested_model")
    return requested if isinstance(requested, str) and requested else event.model


def event_attributes(event: UsageEvent) -> dict[str, AttributeValue]:
    """Every field of ``event`` as span attributes."""
    cache_writes = event.cache_write_tokens + event.cache_write_1h_tokens
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": operation_name(event),
        "gen_ai.request.model": _request_model(event),
        "gen_ai.response.model": event.model,
        "gen_ai.usage.input_tokens": event.input_tokens + event.cache_read_tokens + cache_writes,
        "gen_ai.usage.output_tokens": event.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": event.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": cache_writes,
        "gen_ai.usage.reasoning.output_tokens": event.reasoning_tokens,
        "llmledger.event.id": event.id,
        "llmledger.source": event.source,
        "llmledger.usage.fresh_input_tokens": event.input_tokens,
        "llmledger.usage.cache_write_5m_tokens": event.cache_write_tokens,
        "llmledger.usage.cache_write_1h_tokens": event.cache_write_1h_tokens,
        "llmledger.usage.total_tokens": event.total_tokens,
        "llmledger.cost_status": event.cost_status,
        "llmledger.estimated": event.estimated,
        "llmledger.requests": event.requests,
        "llmledger.success": event.success,
    }
    if event.provider:
        attributes["gen_ai.provider.name"] = event.provider
    if event.session_id:
        attributes["gen_ai.conversation.id"] = event.session_id
    if event.cost_nanos is not None:
        attributes["llmledger.cost_usd"] = event.cost_nanos / 1e9
        attributes["llmledger.cost_nanos"] = event.cost_nanos
    if event.price_version:
        attributes["llmledger.price_version"] = event.price_version
    for name in _ATTRIBUTION:
        value = getattr(event, name)
        if value is not None:
            attributes[f"llmledger.{name}"] = str(value)
    if event.tags:
        attributes["llmledger.tags"] = list(event.tags)
    if event.latency_ms is not None:
        attributes["llmledger.latency_ms"] = float(event.latency_ms)
    if not event.success:
        attributes["error.type"] = event.status or "error"
    if event.details:
        attributes["llmledger.details"] = json.dumps(event.details, sort_keys=True, default=str)
    return attributes


def metric_attributes(event: UsageEvent, token_type: str) -> Mapping[str, str]:
    """The histogram's attributes for one token type (``input`` or ``output``)."""
    found = {
        "gen_ai.operation.name": operation_name(event),
        "gen_ai.request.model": _request_model(event),
        "gen_ai.response.model": event.model,
        "gen_ai.token.type": token_type,
    }
    if event.provider:
        found["gen_ai.provider.name"] = event.provider
    return found

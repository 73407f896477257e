"""Anthropic Messages usage (also Bedrock / Vertex Claude, which share the shape)."""

from __future__ import annotations

from typing import Any

from llmledger.usage._access import UsageReader, as_count, as_dict, as_text, get, is_node, path
from llmledger.usage.counts import TokenCounts

__all__ = ["anthropic_usage"]


def anthropic_usage_node(payload: object) -> object:
    """``payload.usage`` (Message, message_delta), ``payload.message.usage`` (message_start),
    else ``payload`` itself."""
    for node in (get(payload, "usage"), path(payload, "message", "usage")):
        if is_node(node):
            return node
    return payload


def anthropic_usage(payload: object) -> TokenCounts | None:
    """Anthropic usage: ``input_tokens`` already excludes cache reads and writes.

    Cache writes are split 5-minute / 1-hour from ``cache_creation`` when present (any part of
    ``cache_creation_input_tokens`` the split does not cover counts as 5-minute); otherwise all
    of ``cache_creation_input_tokens`` is 5-minute. Reasoning comes from
    ``output_tokens_details.thinking_tokens`` when the API reports it.
    """
    reader = UsageReader(anthropic_usage_node(payload))
    fresh = reader.count("input_tokens")
    output = reader.count("output_tokens")
    read = reader.count("cache_read_input_tokens")
    created = reader.count("cache_creation_input_tokens")
    if fresh is None and output is None and read is None and created is None:
        return None
    five = reader.count("cache_creation", "ephemeral_5m_input_tokens")
    hour = reader.count("cache_creation", "ephemeral_1h_input_tokens")
    extra: dict[str, Any] = {}
    if five is None and hour is None:
        five, hour = created or 0, 0
    else:
        five, hour = five or 0, hour or 0
        if created is not None and created > five + hour:
            extra["cache_creation_unsplit_tokens"] = created - five - hour
            five = created - hour
        elif created is not None and created < five + hour:  # trust the split, keep the evidence
            extra["reported_cache_creation_input_tokens"] = created
    tools = {
        name: value
        for name, raw in as_dict(get(reader.node, "server_tool_use")).items()
        if (value := as_count(raw))
    }
    if tools:
        extra["server_tool_use"] = tools
    for key in ("service_tier", "speed", "inference_geo"):  # all three can change the price
        label = as_text(get(reader.node, key))
        if label:
            extra[key] = label
    return reader.finish(
        input_tokens=fresh or 0,
        cache_read_tokens=read or 0,
        cache_write_tokens=five,
        cache_write_1h_tokens=hour,
        output_tokens=output or 0,
        reasoning_tokens=reader.count("output_tokens_details", "thinking_tokens") or 0,
        extra=extra,
    )

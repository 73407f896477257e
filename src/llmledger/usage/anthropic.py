"""Anthropic Messages usage (also Bedrock / Vertex Claude, and Claude Code's transcripts, which
log the API's usage object as it came): ``AnthropicUsage`` is that object, ``anthropic_tokens``
the one mapping of it into the ledger's token fields, ``anthropic_usage`` the normalizer for
whole responses, stream events and SDK objects."""

from __future__ import annotations

from typing import Any

import msgspec

from llmledger.usage._access import UsageReader, as_text, get, is_node, path
from llmledger.usage.counts import LogCount, MappedUsage, TokenCounts

__all__ = [
    "AnthropicUsage",
    "CacheCreation",
    "OutputTokensDetails",
    "ServerToolUse",
    "anthropic_tokens",
    "anthropic_usage",
]


class CacheCreation(msgspec.Struct):
    """``usage.cache_creation``: the cache writes by time to live."""

    ephemeral_5m_input_tokens: LogCount | None = None
    ephemeral_1h_input_tokens: LogCount | None = None


class ServerToolUse(msgspec.Struct):
    """``usage.server_tool_use``: requests to the server tools billed per use."""

    web_search_requests: LogCount | None = None
    web_fetch_requests: LogCount | None = None


class OutputTokensDetails(msgspec.Struct):
    thinking_tokens: LogCount | None = None


class AnthropicUsage(msgspec.Struct):
    """Anthropic's ``usage`` object, field for field as the SDK types it (unknown fields are
    ignored; None: not reported)."""

    input_tokens: LogCount | None = None
    output_tokens: LogCount | None = None
    cache_creation_input_tokens: LogCount | None = None
    cache_read_input_tokens: LogCount | None = None
    cache_creation: CacheCreation | None = None
    server_tool_use: ServerToolUse | None = None
    output_tokens_details: OutputTokensDetails | None = None
    service_tier: str | None = None
    speed: str | None = None
    inference_geo: str | None = None


# Labels that mean the standard price: not worth a ``details`` entry on every call.
_STANDARD_SPEEDS = frozenset({"", "standard"})
_STANDARD_GEOS = frozenset({"", "global", "not_available"})


def anthropic_tokens(usage: AnthropicUsage) -> MappedUsage:
    """The ledger's token fields of one Anthropic usage object.

    ``input_tokens`` already excludes cache reads and writes. Cache writes are the
    ``cache_creation`` split (5-minute, 1-hour): notes/provider-usage.md maps the split and
    falls back to ``cache_creation_input_tokens`` as 5-minute writes only without one.
    When both are given and disagree, every reported write counts: a total above the split
    adds its unsplit rest to the 5-minute writes (``cache_creation_unsplit_tokens``), a total
    below it is kept as evidence (``reported_cache_creation_input_tokens``). Reasoning is
    ``output_tokens_details.thinking_tokens`` (inside output). ``details``: server tool
    requests (``server_tool_use``, non-zero counts), ``service_tier`` as reported, and
    ``speed`` / ``inference_geo`` when they change the price (``fast``, a named region).
    Missing or negative counts read as 0.
    """
    # Inline ``x if x is not None and x > 0 else 0``: Claude Code's scan maps every line here.
    fresh, read, output = usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens
    fresh = fresh if fresh is not None and fresh > 0 else 0
    read = read if read is not None and read > 0 else 0
    output = output if output is not None and output > 0 else 0
    reported = usage.cache_creation_input_tokens
    split = usage.cache_creation
    five = hour = None
    if split is not None:
        five, hour = split.ephemeral_5m_input_tokens, split.ephemeral_1h_input_tokens
    details: dict[str, Any] = {}
    if five is None and hour is None:
        five = reported if reported is not None and reported > 0 else 0
        hour = 0
    else:
        five = five if five is not None and five > 0 else 0
        hour = hour if hour is not None and hour > 0 else 0
        if reported is not None and reported != five + hour:
            reported = max(reported, 0)
            if reported > five + hour:
                details["cache_creation_unsplit_tokens"] = reported - five - hour
                five = reported - hour
            elif reported < five + hour:
                details["reported_cache_creation_input_tokens"] = reported
    reasoning = 0
    if usage.output_tokens_details is not None:
        reasoning = usage.output_tokens_details.thinking_tokens or 0
        if reasoning > output:
            details["clamped"] = {"reasoning_tokens": reasoning}
            reasoning = output
        elif reasoning < 0:
            reasoning = 0
    tools = usage.server_tool_use
    if tools is not None and (tools.web_search_requests or tools.web_fetch_requests):
        used = {
            name: count
            for name, count in (
                ("web_search_requests", tools.web_search_requests),
                ("web_fetch_requests", tools.web_fetch_requests),
            )
            if count is not None and count > 0
        }
        if used:
            details["server_tool_use"] = used
    if usage.service_tier:
        details["service_tier"] = usage.service_tier
    if usage.speed is not None and usage.speed not in _STANDARD_SPEEDS:
        details["speed"] = usage.speed
    if usage.inference_geo is not None and usage.inference_geo not in _STANDARD_GEOS:
        details["inference_geo"] = usage.inference_geo
    return MappedUsage(fresh, read, five, hour, output, reasoning, details or None)


def anthropic_usage_node(payload: object) -> object:
    """``payload.usage`` (Message, message_delta), ``payload.message.usage`` (message_start),
    else ``payload`` itself."""
    for node in (get(payload, "usage"), path(payload, "message", "usage")):
        if is_node(node):
            return node
    return payload


def anthropic_usage(payload: object) -> TokenCounts | None:
    """Anthropic usage of a Message, a stream event or the bare usage object (dict or SDK
    object), mapped by ``anthropic_tokens``; None when it reports no count."""
    reader = UsageReader(anthropic_usage_node(payload))
    fresh = reader.count("input_tokens")
    output = reader.count("output_tokens")
    read = reader.count("cache_read_input_tokens")
    created = reader.count("cache_creation_input_tokens")
    if fresh is None and output is None and read is None and created is None:
        return None
    five = reader.count("cache_creation", "ephemeral_5m_input_tokens")
    hour = reader.count("cache_creation", "ephemeral_1h_input_tokens")
    thinking = reader.count("output_tokens_details", "thinking_tokens")
    searches = reader.count("server_tool_use", "web_search_requests")
    fetches = reader.count("server_tool_use", "web_fetch_requests")
    node = reader.node
    usage = AnthropicUsage(
        input_tokens=fresh,
        output_tokens=output,
        cache_creation_input_tokens=created,
        cache_read_input_tokens=read,
        cache_creation=None if five is None and hour is None else CacheCreation(five, hour),
        server_tool_use=ServerToolUse(searches, fetches),
        output_tokens_details=None if thinking is None else OutputTokensDetails(thinking),
        service_tier=as_text(get(node, "service_tier")),
        speed=as_text(get(node, "speed")),
        inference_geo=as_text(get(node, "inference_geo")),
    )
    return reader.finish(anthropic_tokens(usage))

"""OpenAI usage: Chat Completions (and every OpenAI-compatible vendor), Responses, embeddings.

Each ``openai_*_usage`` function takes a whole response / stream chunk / event, or the bare
``usage`` object, as a parsed JSON dict or an SDK object, and returns TokenCounts or None when
it carries no usage. Responses usage has a typed form too (``ResponsesUsage``, mapped by
``responses_tokens``), which Codex CLI's logs are read into.
"""

from __future__ import annotations

from typing import Any

import msgspec

from llmledger.usage._access import UsageReader, as_text, get, is_node, item, path
from llmledger.usage.counts import (
    LogCount,
    MappedUsage,
    TokenCounts,
    count_or_zero,
    mapped_usage,
)

__all__ = [
    "ResponsesUsage",
    "openai_chat_usage",
    "openai_embeddings_usage",
    "openai_responses_usage",
    "responses_tokens",
]


def chat_usage_node(payload: object) -> object:
    """``payload.usage``, else ``payload.choices[0].usage`` (Kimi streams), else ``payload``."""
    usage = get(payload, "usage")
    if is_node(usage):
        return usage
    in_choice = get(item(get(payload, "choices"), 0), "usage")
    return in_choice if is_node(in_choice) else payload


def openai_chat_usage(payload: object) -> TokenCounts | None:
    """Chat Completions usage, including the OpenAI-compatible vendors' extensions.

    fresh input = prompt − cache reads − cache writes (``prompt_tokens`` includes both);
    cache reads = ``prompt_tokens_details.cached_tokens``, DeepSeek ``prompt_cache_hit_tokens``
    or Moonshot's legacy top-level ``cached_tokens`` (the largest, never their sum); cache
    writes = ``prompt_tokens_details.cache_write_tokens`` (OpenRouter) or
    ``…cache_creation_input_tokens`` (DashScope explicit cache, 5-minute TTL);
    output = ``completion_tokens`` (reasoning included).
    """
    return _read_chat(chat_usage_node(payload), payload)


def _read_chat(node: object, response: object) -> TokenCounts | None:
    reader = UsageReader(node)
    prompt = reader.count("prompt_tokens")
    completion = reader.count("completion_tokens")
    hit = reader.count("prompt_cache_hit_tokens")
    miss = reader.count("prompt_cache_miss_tokens")
    if prompt is None and completion is None and hit is None and miss is None:
        return None
    if prompt is None:
        prompt = (hit or 0) + (miss or 0)
    reports: dict[str, int] = {}
    detail_cached = reader.count("prompt_tokens_details", "cached_tokens")
    for name, value in (
        ("prompt_tokens_details.cached_tokens", detail_cached),
        ("prompt_cache_hit_tokens", hit),
        ("cached_tokens", reader.count("cached_tokens")),
    ):
        if value is not None:
            reports[name] = value
    if reports:
        cached = max(reports.values())
    elif miss is not None:
        cached = reader.clamp("cache_read_tokens", prompt - miss)
    else:
        cached = 0
    writes = [
        value
        for value in (
            reader.count("prompt_tokens_details", "cache_write_tokens"),
            reader.count("prompt_tokens_details", "cache_creation_input_tokens"),
        )
        if value is not None
    ]
    written = max(writes, default=0)
    output = completion or 0
    extra = _chat_extras(reader, response)
    if len(set(reports.values())) > 1:
        extra["cache_read_reports"] = reports
    mapped = mapped_usage(
        input_tokens=prompt - cached - written,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        output_tokens=output,
        reasoning_tokens=reader.count("completion_tokens_details", "reasoning_tokens") or 0,
        reported_total=reader.count("total_tokens"),
        details=extra,
    )
    return reader.finish(mapped)


def _chat_extras(reader: UsageReader, response: object) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for name, keys in (
        ("input_audio_tokens", ("prompt_tokens_details", "audio_tokens")),
        ("output_audio_tokens", ("completion_tokens_details", "audio_tokens")),
        ("accepted_prediction_tokens", ("completion_tokens_details", "accepted_prediction_tokens")),
        ("rejected_prediction_tokens", ("completion_tokens_details", "rejected_prediction_tokens")),
    ):
        value = reader.count(*keys)
        if value:
            extra[name] = value
    tier = as_text(get(response, "service_tier"))
    if tier:
        extra["service_tier"] = tier
    return extra


def responses_usage_node(payload: object) -> object:
    """``payload.usage``, else ``payload.response.usage`` (stream events), else ``payload``."""
    for node in (get(payload, "usage"), path(payload, "response", "usage")):
        if is_node(node):
            return node
    return payload


class CacheWriteDetails(msgspec.Struct):
    """``input_tokens_details.cache_write_tokens_details``: the writes by retention."""

    ttl_30m_tokens: LogCount | None = None
    ttl_12h_tokens: LogCount | None = None


class InputTokensDetails(msgspec.Struct):
    cached_tokens: LogCount | None = None
    cache_write_tokens: LogCount | None = None
    cache_write_tokens_details: CacheWriteDetails | None = None


class OutputTokensDetails(msgspec.Struct):
    reasoning_tokens: LogCount | None = None


class ResponsesUsage(msgspec.Struct):
    """The Responses API ``usage`` object, field for field (None: not reported). Codex CLI
    logs the same counts under its own names."""

    input_tokens: LogCount | None = None
    output_tokens: LogCount | None = None
    total_tokens: LogCount | None = None
    input_tokens_details: InputTokensDetails | None = None
    output_tokens_details: OutputTokensDetails | None = None


def responses_tokens(usage: ResponsesUsage) -> MappedUsage:
    """The ledger's token fields of one Responses usage object.

    ``input_tokens`` includes cache reads and writes: fresh = input − cached − cache writes
    (a cache count above the input is kept and fresh input clamped to 0, noted); output
    includes reasoning. ``details``: the retention split of cache writes, and the reported
    total when it disagrees.
    """
    inputs = usage.input_tokens_details
    cached = written = 0
    details: dict[str, Any] = {}
    if inputs is not None:
        cached, written = (
            count_or_zero(inputs.cached_tokens),
            count_or_zero(inputs.cache_write_tokens),
        )
        ttl = inputs.cache_write_tokens_details
        if ttl is not None:
            for name, value in (
                ("ttl_30m_tokens", ttl.ttl_30m_tokens),
                ("ttl_12h_tokens", ttl.ttl_12h_tokens),
            ):
                if value:
                    details[f"cache_write_{name}"] = value
    outputs = usage.output_tokens_details
    return mapped_usage(
        input_tokens=count_or_zero(usage.input_tokens) - cached - written,
        cache_read_tokens=cached,
        cache_write_tokens=written,
        output_tokens=count_or_zero(usage.output_tokens),
        reasoning_tokens=0 if outputs is None else count_or_zero(outputs.reasoning_tokens),
        reported_total=usage.total_tokens,
        details=details or None,
    )


def openai_responses_usage(payload: object) -> TokenCounts | None:
    """Responses API usage of a Response, a terminal stream event (``response.completed`` /
    ``.incomplete`` / ``.failed``, usage on its ``response``) or the bare usage object,
    mapped by ``responses_tokens``; None when it reports no count."""
    reader = UsageReader(responses_usage_node(payload))
    total_input = reader.count("input_tokens")
    output = reader.count("output_tokens")
    if total_input is None and output is None:
        return None
    ttl_split = "input_tokens_details", "cache_write_tokens_details"
    usage = ResponsesUsage(
        input_tokens=total_input,
        output_tokens=output,
        total_tokens=reader.count("total_tokens"),
        input_tokens_details=InputTokensDetails(
            cached_tokens=reader.count("input_tokens_details", "cached_tokens"),
            cache_write_tokens=reader.count("input_tokens_details", "cache_write_tokens"),
            cache_write_tokens_details=CacheWriteDetails(
                ttl_30m_tokens=reader.count(*ttl_split, "ttl_30m_tokens"),
                ttl_12h_tokens=reader.count(*ttl_split, "ttl_12h_tokens"),
            ),
        ),
        output_tokens_details=OutputTokensDetails(
            reasoning_tokens=reader.count("output_tokens_details", "reasoning_tokens")
        ),
    )
    response = get(payload, "response") if is_node(get(payload, "response")) else payload
    tier = as_text(get(response, "service_tier"))
    return reader.finish(responses_tokens(usage), {"service_tier": tier} if tier else None)


def openai_embeddings_usage(payload: object) -> TokenCounts | None:
    """Embeddings usage ``{"prompt_tokens": N, "total_tokens": N}``: all of it is input."""
    usage = get(payload, "usage")
    reader = UsageReader(usage if is_node(usage) else payload)
    tokens = reader.first_count(("prompt_tokens",), ("input_tokens",), ("total_tokens",))
    if tokens is None:
        return None
    mapped = mapped_usage(input_tokens=tokens, reported_total=reader.count("total_tokens"))
    return reader.finish(mapped)

"""OpenAI usage: Chat Completions (and every OpenAI-compatible vendor), Responses, embeddings.

Each function takes a whole response / stream chunk / event, or the bare ``usage`` object, as a
parsed JSON dict or an SDK object, and returns TokenCounts or None when it carries no usage.
"""

from __future__ import annotations

from typing import Any

from llmledger.usage._access import UsageReader, as_text, get, is_node, item, path
from llmledger.usage.counts import TokenCounts

__all__ = ["openai_chat_usage", "openai_embeddings_usage", "openai_responses_usage"]


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
    return reader.finish(
        input_tokens=reader.clamp("input_tokens", prompt - cached - written),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        output_tokens=output,
        reasoning_tokens=reader.count("completion_tokens_details", "reasoning_tokens") or 0,
        reported_total=reader.count("total_tokens"),
        extra=extra,
    )


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


def openai_responses_usage(payload: object) -> TokenCounts | None:
    """Responses API usage: fresh = input − cached − cache writes; output includes reasoning.

    Accepts a Response, a terminal stream event (``response.completed`` / ``.incomplete`` /
    ``.failed``, usage on its ``response``), or the bare usage object.
    """
    reader = UsageReader(responses_usage_node(payload))
    total_input = reader.count("input_tokens")
    output = reader.count("output_tokens")
    if total_input is None and output is None:
        return None
    cached = reader.count("input_tokens_details", "cached_tokens") or 0
    written = reader.count("input_tokens_details", "cache_write_tokens") or 0
    extra: dict[str, Any] = {}
    for ttl in ("ttl_30m_tokens", "ttl_12h_tokens"):  # retention split of the writes
        value = reader.count("input_tokens_details", "cache_write_tokens_details", ttl)
        if value:
            extra[f"cache_write_{ttl}"] = value
    response = get(payload, "response") if is_node(get(payload, "response")) else payload
    tier = as_text(get(response, "service_tier"))
    if tier:
        extra["service_tier"] = tier
    return reader.finish(
        input_tokens=reader.clamp("input_tokens", (total_input or 0) - cached - written),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        output_tokens=output or 0,
        reasoning_tokens=reader.count("output_tokens_details", "reasoning_tokens") or 0,
        reported_total=reader.count("total_tokens"),
        extra=extra,
    )


def openai_embeddings_usage(payload: object) -> TokenCounts | None:
    """Embeddings usage ``{"prompt_tokens": N, "total_tokens": N}``: all of it is input."""
    usage = get(payload, "usage")
    reader = UsageReader(usage if is_node(usage) else payload)
    tokens = reader.first_count(("prompt_tokens",), ("input_tokens",), ("total_tokens",))
    if tokens is None:
        return None
    return reader.finish(input_tokens=tokens, reported_total=reader.count("total_tokens"))

"""OpenAI-compatible vendors: DeepSeek, DashScope/Qwen, Moonshot/Kimi, Tencent Hunyuan, OpenRouter.

Their usage is the OpenAI chat shape plus a few extra fields, all read by ``openai_chat_usage``;
the named functions below document each vendor's quirks. OpenRouter alone adds a reported cost.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from llmledger.usage._access import as_usd, get, is_node, path
from llmledger.usage.counts import TokenCounts
from llmledger.usage.openai import chat_usage_node, openai_chat_usage

__all__ = [
    "dashscope_usage",
    "deepseek_usage",
    "hunyuan_usage",
    "moonshot_usage",
    "openrouter_cost",
    "openrouter_usage",
    "with_openrouter_cost",
]


def deepseek_usage(payload: object) -> TokenCounts | None:
    """DeepSeek: ``prompt_cache_hit_tokens`` + ``prompt_cache_miss_tokens`` = ``prompt_tokens``;
    newer responses repeat the hit count as ``prompt_tokens_details.cached_tokens`` (read
    both, counted once); ``deepseek-reasoner`` reports ``reasoning_tokens`` inside completion."""
    return openai_chat_usage(payload)


def dashscope_usage(payload: object) -> TokenCounts | None:
    """Alibaba DashScope / Qwen compatible mode: implicit-cache hits in
    ``prompt_tokens_details.cached_tokens``, explicit-cache writes (5-minute TTL) in
    ``prompt_tokens_details.cache_creation_input_tokens``. Streams carry usage only with
    ``stream_options.include_usage``."""
    return openai_chat_usage(payload)


def moonshot_usage(payload: object) -> TokenCounts | None:
    """Moonshot / Kimi: stream usage may sit in ``choices[0].usage``; moonshot-v1 explicit
    context cache reported a top-level ``usage.cached_tokens`` (taken as part of the prompt)."""
    return openai_chat_usage(payload)


def hunyuan_usage(payload: object) -> TokenCounts | None:
    """Tencent Hunyuan's OpenAI-compatible endpoint: plain OpenAI usage shape."""
    return openai_chat_usage(payload)


def _usage_node(payload: object) -> object:
    for node in (get(payload, "usage"), path(payload, "response", "usage")):
        if is_node(node):
            return node
    return chat_usage_node(payload)


def _byok_upstream(node: object) -> Decimal | None:
    if get(node, "is_byok") is not True:
        return None
    return as_usd(path(node, "cost_details", "upstream_inference_cost"))


def openrouter_cost(payload: object) -> Decimal | None:
    """OpenRouter's reported cost in USD (credits) from ``usage.cost``.

    For BYOK requests (``is_byok``) ``cost`` is only OpenRouter's fee and the provider bills
    ``cost_details.upstream_inference_cost`` to the user's own key: the two are added.
    """
    node = _usage_node(payload)
    cost = as_usd(get(node, "cost"))
    if cost is None:
        return None
    upstream = _byok_upstream(node)
    return cost if upstream is None else cost + upstream


def with_openrouter_cost(counts: TokenCounts | None, payload: object) -> TokenCounts | None:
    """``counts`` with OpenRouter's reported cost (and BYOK facts in details) attached."""
    cost = openrouter_cost(payload)
    if counts is None or cost is None:
        return counts
    upstream = _byok_upstream(_usage_node(payload))
    if upstream is None:
        return replace(counts, reported_cost=cost)
    details = {**(counts.details or {}), "is_byok": True, "upstream_inference_cost": str(upstream)}
    return replace(counts, reported_cost=cost, details=details)


def openrouter_usage(payload: object) -> TokenCounts | None:
    """OpenRouter chat usage: OpenAI shape (``prompt_tokens`` includes cache reads and writes)
    plus ``usage.cost``, taken as the reported cost."""
    return with_openrouter_cost(openai_chat_usage(payload), payload)

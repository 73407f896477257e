"""One entry point: recognise a payload's usage shape and pick the right normalizer.

The wire shape decides the token semantics (an Anthropic-compatible endpoint of another vendor
still reports Anthropic-style usage), so dispatch is by shape; the provider name only adds
vendor extras (OpenRouter's reported cost).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from llmledger.usage._access import first_of, get, is_node, item, path
from llmledger.usage.anthropic import anthropic_usage
from llmledger.usage.compat import with_openrouter_cost
from llmledger.usage.counts import TokenCounts
from llmledger.usage.gemini import gemini_usage
from llmledger.usage.openai import openai_chat_usage, openai_responses_usage

__all__ = ["Normalizer", "UsageShape", "detect_shape", "normalize_usage", "normalizer_for"]

UsageShape = Literal["openai_chat", "openai_responses", "anthropic", "gemini"]
Normalizer = Callable[[object], TokenCounts | None]

_NORMALIZERS: dict[UsageShape, Normalizer] = {
    "openai_chat": openai_chat_usage,
    "openai_responses": openai_responses_usage,
    "anthropic": anthropic_usage,
    "gemini": gemini_usage,
}

_ANTHROPIC_KEYS = (
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation",
    "server_tool_use",
)
_CHAT_KEYS = ("prompt_tokens", "completion_tokens", "prompt_cache_hit_tokens")
_GEMINI_KEYS = (
    "promptTokenCount",
    "candidatesTokenCount",
    "prompt_token_count",
    "candidates_token_count",
)
_REPORTS_COST = frozenset({"openrouter"})


def _usage_node(payload: object) -> object:
    gemini = first_of(payload, "usageMetadata", "usage_metadata")
    if is_node(gemini):
        return gemini
    for node in (
        get(payload, "usage"),
        path(payload, "response", "usage"),
        path(payload, "message", "usage"),
        get(item(get(payload, "choices"), 0), "usage"),
    ):
        if is_node(node):
            return node
    return payload


def _has_any(node: object, keys: tuple[str, ...]) -> bool:
    return any(get(node, key) is not None for key in keys)


def detect_shape(payload: object) -> UsageShape | None:
    """The usage shape of a response, stream event or bare usage object; None if no usage.

    Plain ``input_tokens``/``output_tokens`` with neither Responses details nor Anthropic
    cache fields read the same under both conventions and are reported as ``anthropic``.
    """
    node = _usage_node(payload)
    if _has_any(node, _GEMINI_KEYS):
        return "gemini"
    if _has_any(node, _CHAT_KEYS):
        return "openai_chat"
    responses = (
        get(node, "input_tokens_details") is not None
        or path(node, "output_tokens_details", "reasoning_tokens") is not None
    )
    if responses and not _has_any(node, _ANTHROPIC_KEYS):
        return "openai_responses"
    if _has_any(node, ("input_tokens", "output_tokens", *_ANTHROPIC_KEYS)):
        return "anthropic"
    return None


def normalizer_for(shape: UsageShape, provider: str | None = None) -> Normalizer:
    """The normalizer for a known shape, wrapped to attach a reported cost for providers that
    send one (OpenRouter)."""
    base = _NORMALIZERS[shape]
    if (provider or "").lower() not in _REPORTS_COST:
        return base

    def with_cost(payload: object) -> TokenCounts | None:
        return with_openrouter_cost(base(payload), payload)

    return with_cost


def normalize_usage(payload: object, provider: str | None = None) -> TokenCounts | None:
    """TokenCounts for any supported payload, whatever its shape; None when it has no usage."""
    shape = detect_shape(payload)
    return None if shape is None else normalizer_for(shape, provider)(payload)

"""Google Gemini ``usageMetadata`` (REST camelCase and google-genai SDK snake_case alike)."""

from __future__ import annotations

from typing import Any

from llmledger.usage._access import UsageReader, first_of, is_node
from llmledger.usage.counts import TokenCounts

__all__ = ["gemini_usage"]


def gemini_usage_node(payload: object) -> object:
    """``payload.usageMetadata`` / ``payload.usage_metadata``, else ``payload`` itself."""
    node = first_of(payload, "usageMetadata", "usage_metadata")
    return node if is_node(node) else payload


def gemini_usage(payload: object) -> TokenCounts | None:
    """Gemini usage: the prompt count INCLUDES cached content; thoughts are NOT in candidates.

    fresh = prompt + toolUsePrompt − cached; output = candidates + thoughts; reasoning = thoughts.
    """
    reader = UsageReader(gemini_usage_node(payload))

    def count(camel: str, snake: str) -> int | None:
        return reader.first_count((camel,), (snake,))

    prompt = count("promptTokenCount", "prompt_token_count")
    candidates = count("candidatesTokenCount", "candidates_token_count")
    cached = count("cachedContentTokenCount", "cached_content_token_count")
    thoughts = count("thoughtsTokenCount", "thoughts_token_count")
    tool = count("toolUsePromptTokenCount", "tool_use_prompt_token_count")
    if prompt is None and candidates is None and thoughts is None and tool is None:
        return None
    extra: dict[str, Any] = {}
    if tool:
        extra["tool_use_prompt_tokens"] = tool
    return reader.finish(
        input_tokens=reader.clamp("input_tokens", (prompt or 0) + (tool or 0) - (cached or 0)),
        cache_read_tokens=cached or 0,
        output_tokens=(candidates or 0) + (thoughts or 0),
        reasoning_tokens=thoughts or 0,
        reported_total=count("totalTokenCount", "total_token_count"),
        extra=extra,
    )

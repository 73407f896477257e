"""Google Gemini ``usageMetadata``: ``GeminiUsage`` is that object (REST spelling, as Qwen Code
logs it; Gemini CLI logs the same counts under its own names), ``gemini_tokens`` the one
mapping of it into the ledger's token fields, ``gemini_usage`` the normalizer for responses,
stream chunks and SDK objects (REST camelCase and google-genai snake_case alike)."""

from __future__ import annotations

from typing import Any

import msgspec

from llmledger.usage._access import UsageReader, first_of, is_node
from llmledger.usage.counts import (
    LogCount,
    MappedUsage,
    TokenCounts,
    count_or_zero,
    mapped_usage,
)

__all__ = ["GeminiUsage", "gemini_tokens", "gemini_usage"]


class GeminiUsage(msgspec.Struct):
    """Gemini's ``usageMetadata`` counts (unknown fields are ignored; None: not reported)."""

    promptTokenCount: LogCount | None = None
    candidatesTokenCount: LogCount | None = None
    cachedContentTokenCount: LogCount | None = None
    thoughtsTokenCount: LogCount | None = None
    toolUsePromptTokenCount: LogCount | None = None
    totalTokenCount: LogCount | None = None


def gemini_tokens(usage: GeminiUsage) -> MappedUsage:
    """The ledger's token fields of one Gemini usage object.

    The prompt count INCLUDES cached content; thoughts are NOT in candidates but billed as
    output (notes/provider-usage.md): fresh = prompt + toolUsePrompt − cached (a cached count
    above that is kept and fresh input clamped to 0, noted), output = candidates + thoughts,
    reasoning = thoughts. Gemini's total is prompt + toolUsePrompt + candidates + thoughts: a
    reported total that leaves the thoughts out says they are already inside candidates (Qwen
    Code logs an OpenAI-compatible backend's ``completion_tokens``, reasoning included, as
    candidates and its ``reasoning_tokens`` as thoughts), and output is then candidates alone
    (``thoughts_in_candidates``). ``details``: ``tool_use_prompt_tokens``, and the reported
    total when it disagrees.
    """
    prompt = count_or_zero(usage.promptTokenCount)
    tool = count_or_zero(usage.toolUsePromptTokenCount)
    candidates = count_or_zero(usage.candidatesTokenCount)
    thoughts = count_or_zero(usage.thoughtsTokenCount)
    cached = count_or_zero(usage.cachedContentTokenCount)
    details: dict[str, Any] = {"tool_use_prompt_tokens": tool} if tool else {}
    output = candidates + thoughts
    if thoughts and usage.totalTokenCount == prompt + tool + candidates:
        output = candidates
        details["thoughts_in_candidates"] = True
    return mapped_usage(
        input_tokens=prompt + tool - cached,
        cache_read_tokens=cached,
        output_tokens=output,
        reasoning_tokens=thoughts,
        reported_total=usage.totalTokenCount,
        details=details or None,
    )


def gemini_usage_node(payload: object) -> object:
    """``payload.usageMetadata`` / ``payload.usage_metadata``, else ``payload`` itself."""
    node = first_of(payload, "usageMetadata", "usage_metadata")
    return node if is_node(node) else payload


def gemini_usage(payload: object) -> TokenCounts | None:
    """Gemini usage of a response, a stream chunk or the bare ``usageMetadata`` (dict or SDK
    object), mapped by ``gemini_tokens``; None when it reports no count."""
    reader = UsageReader(gemini_usage_node(payload))

    def count(camel: str, snake: str) -> int | None:
        return reader.first_count((camel,), (snake,))

    usage = GeminiUsage(
        promptTokenCount=count("promptTokenCount", "prompt_token_count"),
        candidatesTokenCount=count("candidatesTokenCount", "candidates_token_count"),
        cachedContentTokenCount=count("cachedContentTokenCount", "cached_content_token_count"),
        thoughtsTokenCount=count("thoughtsTokenCount", "thoughts_token_count"),
        toolUsePromptTokenCount=count("toolUsePromptTokenCount", "tool_use_prompt_token_count"),
        totalTokenCount=count("totalTokenCount", "total_token_count"),
    )
    if (
        usage.promptTokenCount is None
        and usage.candidatesTokenCount is None
        and usage.thoughtsTokenCount is None
        and usage.toolUsePromptTokenCount is None
    ):
        return None
    return reader.finish(gemini_tokens(usage))

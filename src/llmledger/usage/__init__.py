"""Pure provider-usage normalizers: provider payloads in, ledger TokenCounts out.

Every normalizer accepts a parsed JSON dict or an SDK object (attributes), a whole response,
a stream chunk/event or the bare usage object; returns None when there is no usage; never
raises on malformed input and never returns a negative count. Nothing outside this package
(and ``sources/``) knows a provider's field names.

Each provider module has the provider's usage object as a typed struct (``AnthropicUsage``,
``GeminiUsage``, ``ResponsesUsage``) and ONE mapping of it into the ledger's token fields
(``anthropic_tokens``, ``gemini_tokens``, ``responses_tokens``, returning ``MappedUsage``):
the normalizers here and the agent-log parsers in ``sources/`` both go through it.

Names are imported on first use: an agent-log parser that needs one mapping does not load the
stream accumulators, the SSE parser and the token estimator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmledger.usage.anthropic import (
        AnthropicUsage,
        anthropic_tokens,
        anthropic_usage,
    )
    from llmledger.usage.compat import (
        dashscope_usage,
        deepseek_usage,
        hunyuan_usage,
        moonshot_usage,
        openrouter_cost,
        openrouter_usage,
        with_openrouter_cost,
    )
    from llmledger.usage.counts import (
        MappedUsage,
        TokenCounts,
        TokenFields,
    )
    from llmledger.usage.gemini import (
        GeminiUsage,
        gemini_tokens,
        gemini_usage,
    )
    from llmledger.usage.normalize import (
        Normalizer,
        UsageShape,
        detect_shape,
        normalize_usage,
        normalizer_for,
    )
    from llmledger.usage.openai import (
        ResponsesUsage,
        openai_chat_usage,
        openai_embeddings_usage,
        openai_responses_usage,
        responses_tokens,
    )
    from llmledger.usage.sse import (
        SSEEvent,
        decode_json,
    )
    from llmledger.usage.streams import (
        AnthropicStream,
        DeferredStream,
        GeminiStream,
        OpenAIChatStream,
        OpenAIResponsesStream,
        StreamAccumulator,
        detect_stream_shape,
        is_usage_only_chunk,
        stream_for,
    )

_EXPORTS: dict[str, str] = {
    "AnthropicStream": "llmledger.usage.streams",
    "AnthropicUsage": "llmledger.usage.anthropic",
    "DeferredStream": "llmledger.usage.streams",
    "GeminiStream": "llmledger.usage.streams",
    "GeminiUsage": "llmledger.usage.gemini",
    "MappedUsage": "llmledger.usage.counts",
    "Normalizer": "llmledger.usage.normalize",
    "OpenAIChatStream": "llmledger.usage.streams",
    "OpenAIResponsesStream": "llmledger.usage.streams",
    "ResponsesUsage": "llmledger.usage.openai",
    "SSEEvent": "llmledger.usage.sse",
    "StreamAccumulator": "llmledger.usage.streams",
    "TokenCounts": "llmledger.usage.counts",
    "TokenFields": "llmledger.usage.counts",
    "UsageShape": "llmledger.usage.normalize",
    "anthropic_tokens": "llmledger.usage.anthropic",
    "anthropic_usage": "llmledger.usage.anthropic",
    "dashscope_usage": "llmledger.usage.compat",
    "decode_json": "llmledger.usage.sse",
    "deepseek_usage": "llmledger.usage.compat",
    "detect_shape": "llmledger.usage.normalize",
    "detect_stream_shape": "llmledger.usage.streams",
    "gemini_tokens": "llmledger.usage.gemini",
    "gemini_usage": "llmledger.usage.gemini",
    "hunyuan_usage": "llmledger.usage.compat",
    "is_usage_only_chunk": "llmledger.usage.streams",
    "moonshot_usage": "llmledger.usage.compat",
    "normalize_usage": "llmledger.usage.normalize",
    "normalizer_for": "llmledger.usage.normalize",
    "openai_chat_usage": "llmledger.usage.openai",
    "openai_embeddings_usage": "llmledger.usage.openai",
    "openai_responses_usage": "llmledger.usage.openai",
    "openrouter_cost": "llmledger.usage.compat",
    "openrouter_usage": "llmledger.usage.compat",
    "responses_tokens": "llmledger.usage.openai",
    "stream_for": "llmledger.usage.streams",
    "with_openrouter_cost": "llmledger.usage.compat",
}

__all__ = [
    "AnthropicStream",
    "AnthropicUsage",
    "DeferredStream",
    "GeminiStream",
    "GeminiUsage",
    "MappedUsage",
    "Normalizer",
    "OpenAIChatStream",
    "OpenAIResponsesStream",
    "ResponsesUsage",
    "SSEEvent",
    "StreamAccumulator",
    "TokenCounts",
    "TokenFields",
    "UsageShape",
    "anthropic_tokens",
    "anthropic_usage",
    "dashscope_usage",
    "decode_json",
    "deepseek_usage",
    "detect_shape",
    "detect_stream_shape",
    "gemini_tokens",
    "gemini_usage",
    "hunyuan_usage",
    "is_usage_only_chunk",
    "moonshot_usage",
    "normalize_usage",
    "normalizer_for",
    "openai_chat_usage",
    "openai_embeddings_usage",
    "openai_responses_usage",
    "openrouter_cost",
    "openrouter_usage",
    "responses_tokens",
    "stream_for",
    "with_openrouter_cost",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""Pure provider-usage normalizers: provider payloads in, ledger TokenCounts out.

Every normalizer accepts a parsed JSON dict or an SDK object (attributes), a whole response,
a stream chunk/event or the bare usage object; returns None when there is no usage; never
raises on malformed input and never returns a negative count. Nothing outside this package
(and ``sources/``) knows a provider's field names.
"""

from llmledger.usage.anthropic import anthropic_usage
from llmledger.usage.compat import (
    dashscope_usage,
    deepseek_usage,
    hunyuan_usage,
    moonshot_usage,
    openrouter_cost,
    openrouter_usage,
    with_openrouter_cost,
)
from llmledger.usage.counts import TokenCounts, TokenFields
from llmledger.usage.gemini import gemini_usage
from llmledger.usage.normalize import (
    Normalizer,
    UsageShape,
    detect_shape,
    normalize_usage,
    normalizer_for,
)
from llmledger.usage.openai import (
    openai_chat_usage,
    openai_embeddings_usage,
    openai_responses_usage,
)
from llmledger.usage.sse import SSEEvent, SSEParser, aiter_sse, decode_json, iter_sse
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

__all__ = [
    "AnthropicStream",
    "DeferredStream",
    "GeminiStream",
    "Normalizer",
    "OpenAIChatStream",
    "OpenAIResponsesStream",
    "SSEEvent",
    "SSEParser",
    "StreamAccumulator",
    "TokenCounts",
    "TokenFields",
    "UsageShape",
    "aiter_sse",
    "anthropic_usage",
    "dashscope_usage",
    "decode_json",
    "deepseek_usage",
    "detect_shape",
    "detect_stream_shape",
    "gemini_usage",
    "hunyuan_usage",
    "is_usage_only_chunk",
    "iter_sse",
    "moonshot_usage",
    "normalize_usage",
    "normalizer_for",
    "openai_chat_usage",
    "openai_embeddings_usage",
    "openai_responses_usage",
    "openrouter_cost",
    "openrouter_usage",
    "stream_for",
    "with_openrouter_cost",
]

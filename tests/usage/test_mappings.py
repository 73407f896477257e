"""The provider mappings on their typed usage objects, decoded the way the agent-log parsers
decode them (msgspec, strict types, unknown fields ignored)."""

from __future__ import annotations

import msgspec
import pytest

from llmledger.usage import (
    AnthropicUsage,
    GeminiUsage,
    MappedUsage,
    ResponsesUsage,
    anthropic_tokens,
    gemini_tokens,
    responses_tokens,
)
from llmledger.usage.counts import LOG_COUNT_LIMIT, mapped_usage


def decode_anthropic(raw: bytes) -> AnthropicUsage:
    return msgspec.json.decode(raw, type=AnthropicUsage)


def test_a_claude_code_usage_object() -> None:
    usage = decode_anthropic(
        b'{"input_tokens":6,"cache_creation_input_tokens":15126,"cache_read_input_tokens":0,'
        b'"output_tokens":140,"server_tool_use":{"web_search_requests":0,'
        b'"web_fetch_requests":0},"service_tier":"standard","cache_creation":'
        b'{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":15126},"inference_geo":"",'
        b'"iterations":[{"input_tokens":6,"output_tokens":140,"type":"message"}],'
        b'"speed":"standard"}'
    )
    assert anthropic_tokens(usage) == MappedUsage(
        input_tokens=6,
        cache_write_tokens=15126,
        output_tokens=140,
        details={"service_tier": "standard"},
    )


def test_anthropic_negative_counts_read_as_zero() -> None:
    usage = decode_anthropic(
        b'{"input_tokens":-4,"output_tokens":-1,"cache_read_input_tokens":-2,'
        b'"cache_creation_input_tokens":-9,"output_tokens_details":{"thinking_tokens":-3}}'
    )
    assert anthropic_tokens(usage) == MappedUsage()


def test_anthropic_total_above_the_split_adds_the_rest_to_five_minute_writes() -> None:
    usage = msgspec.convert(
        {"cache_creation_input_tokens": 1000, "cache_creation": {"ephemeral_1h_input_tokens": 600}},
        AnthropicUsage,
    )
    assert anthropic_tokens(usage) == MappedUsage(
        cache_write_tokens=400,
        cache_write_1h_tokens=600,
        details={"cache_creation_unsplit_tokens": 400},
    )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"output_tokens":"many"}',
        b'{"input_tokens":1.5}',
        b'{"service_tier":7}',
        b'{"output_tokens":%d}' % (LOG_COUNT_LIMIT + 1),
        b'{"cache_creation":{"ephemeral_1h_input_tokens":true}}',
    ],
)
def test_a_malformed_usage_object_does_not_decode(raw: bytes) -> None:
    """A log line holding one is counted as malformed by its parser, never half-read."""
    with pytest.raises(msgspec.ValidationError):
        decode_anthropic(raw)


def test_gemini_usage_metadata() -> None:
    usage = msgspec.json.decode(
        b'{"promptTokenCount":1200,"candidatesTokenCount":300,"cachedContentTokenCount":1000,'
        b'"thoughtsTokenCount":700,"toolUsePromptTokenCount":50,"totalTokenCount":2250,'
        b'"promptTokensDetails":[{"modality":"TEXT","tokenCount":1200}]}',
        type=GeminiUsage,
    )
    assert gemini_tokens(usage) == MappedUsage(
        input_tokens=250,
        cache_read_tokens=1000,
        output_tokens=1000,
        reasoning_tokens=700,
        details={"tool_use_prompt_tokens": 50},
    )


def test_gemini_cached_above_the_prompt_keeps_the_cache_count() -> None:
    """The same rule as OpenAI's: the provider's cache count is kept, fresh input clamped to
    0 and the clamp noted (Gemini CLI used to cut the cache count to the prompt instead)."""
    usage = GeminiUsage(promptTokenCount=10, cachedContentTokenCount=30, candidatesTokenCount=2)
    assert gemini_tokens(usage) == MappedUsage(
        cache_read_tokens=30, output_tokens=2, details={"clamped": {"input_tokens": -20}}
    )


def test_gemini_total_that_disagrees_is_noted() -> None:
    usage = GeminiUsage(promptTokenCount=10, candidatesTokenCount=2, totalTokenCount=99)
    assert gemini_tokens(usage) == MappedUsage(
        input_tokens=10, output_tokens=2, details={"reported_total_tokens": 99}
    )


def test_responses_usage() -> None:
    usage = msgspec.json.decode(
        b'{"input_tokens":125,"input_tokens_details":{"cached_tokens":98},'
        b'"output_tokens":48,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":173}',
        type=ResponsesUsage,
    )
    assert responses_tokens(usage) == MappedUsage(
        input_tokens=27, cache_read_tokens=98, output_tokens=48, reasoning_tokens=20
    )


def test_mapped_usage_clamps_and_notes() -> None:
    mapped = mapped_usage(
        input_tokens=-5, cache_read_tokens=15, output_tokens=3, reasoning_tokens=4
    )
    assert mapped == MappedUsage(
        cache_read_tokens=15,
        output_tokens=3,
        reasoning_tokens=3,
        details={"clamped": {"input_tokens": -5, "reasoning_tokens": 4}},
    )
    assert mapped.total_tokens == 18


def test_gemini_total_without_the_thoughts_means_they_are_inside_candidates() -> None:
    """Qwen Code over an OpenAI-compatible backend: candidates = completion_tokens (reasoning
    included), thoughts = reasoning_tokens, total = prompt + completion."""
    usage = GeminiUsage(
        promptTokenCount=1200,
        candidatesTokenCount=340,
        thoughtsTokenCount=40,
        cachedContentTokenCount=200,
        totalTokenCount=1540,
    )
    assert gemini_tokens(usage) == MappedUsage(
        input_tokens=1000,
        cache_read_tokens=200,
        output_tokens=340,
        reasoning_tokens=40,
        details={"thoughts_in_candidates": True},
    )
    # Gemini's own total counts the thoughts: they are added to candidates.
    counted = gemini_tokens(
        GeminiUsage(
            promptTokenCount=10, candidatesTokenCount=0, thoughtsTokenCount=5, totalTokenCount=15
        )
    )
    assert counted == MappedUsage(input_tokens=10, output_tokens=5, reasoning_tokens=5)

"""Hypothesis: no payload, however malformed, makes a normalizer raise or go negative; for
well-formed payloads the provider's token totals are conserved."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmledger.usage import (
    AnthropicStream,
    GeminiStream,
    OpenAIChatStream,
    OpenAIResponsesStream,
    TokenCounts,
    anthropic_usage,
    deepseek_usage,
    gemini_usage,
    normalize_usage,
    openai_chat_usage,
    openai_embeddings_usage,
    openai_responses_usage,
    openrouter_usage,
)
from llmledger.usage._access import MAX_COUNT

# Shared machines are slow at times: no deadlines, no generation-speed health check.
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

NORMALIZERS: list[Callable[[object], TokenCounts | None]] = [
    openai_chat_usage,
    openai_responses_usage,
    openai_embeddings_usage,
    anthropic_usage,
    gemini_usage,
    openrouter_usage,
    normalize_usage,
]

USAGE_KEYS = [
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "audio_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
    "prompt_cache_hit_tokens",
    "prompt_cache_miss_tokens",
    "cache_creation_input_tokens",
    "input_tokens",
    "output_tokens",
    "input_tokens_details",
    "output_tokens_details",
    "cache_write_tokens_details",
    "ttl_30m_tokens",
    "cache_read_input_tokens",
    "cache_creation",
    "ephemeral_5m_input_tokens",
    "ephemeral_1h_input_tokens",
    "thinking_tokens",
    "server_tool_use",
    "web_search_requests",
    "service_tier",
    "speed",
    "inference_geo",
    "promptTokenCount",
    "candidatesTokenCount",
    "cachedContentTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
    "totalTokenCount",
    "cost",
    "is_byok",
    "cost_details",
    "upstream_inference_cost",
]
CONTAINER_KEYS = ["usage", "usageMetadata", "usage_metadata", "response", "message", "choices"]

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=0, max_value=MAX_COUNT),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
scalars = st.one_of(st.none(), numbers, st.text(max_size=8))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=20,
)
# Dicts built from the keys the normalizers look at, holding anything at all.
usage_like = st.recursive(
    st.dictionaries(st.sampled_from(USAGE_KEYS), scalars, max_size=6),
    lambda children: st.dictionaries(
        st.sampled_from(USAGE_KEYS + CONTAINER_KEYS),
        st.one_of(scalars, children, st.lists(children, max_size=2)),
        max_size=6,
    ),
    max_leaves=8,
)
payloads = st.one_of(
    json_values,
    usage_like,
    st.builds(lambda key, inner: {key: inner}, st.sampled_from(CONTAINER_KEYS), usage_like),
    st.builds(lambda inner: {"choices": [{"usage": inner}]}, usage_like),
    st.builds(lambda inner: {"response": {"usage": inner}}, usage_like),
    st.builds(lambda inner: {"message": {"usage": inner}}, usage_like),
)

LIMIT = 2**63 - 1


def check(counts: TokenCounts | None) -> None:
    if counts is None:
        return
    for name, value in counts.token_fields().items():
        assert isinstance(value, int) and not isinstance(value, bool), name
        assert 0 <= value <= LIMIT, (name, value)
    assert counts.reasoning_tokens <= counts.output_tokens
    assert counts.total_tokens <= LIMIT
    if counts.reported_cost is not None:
        assert counts.reported_cost.is_finite() and counts.reported_cost >= 0
    json.dumps(counts.details)  # details stay JSON-friendly


@settings(RELAXED, max_examples=400)
@given(payloads)
def test_no_payload_breaks_a_normalizer(payload: Any) -> None:
    for normalize in NORMALIZERS:
        check(normalize(payload))


def to_namespace(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{k: to_namespace(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_namespace(v) for v in value]
    return value


def essentials(counts: TokenCounts | None) -> tuple[object, ...] | None:
    return None if counts is None else (*counts.token_fields().values(), counts.reported_cost)


@RELAXED
@given(payloads)
def test_sdk_objects_read_like_dicts(payload: Any) -> None:
    as_object = to_namespace(payload)
    for normalize in NORMALIZERS:
        assert essentials(normalize(as_object)) == essentials(normalize(payload))


@settings(RELAXED, max_examples=200)  # the first estimate loads the tokenizer
@given(st.lists(payloads, max_size=6))
def test_no_event_sequence_breaks_a_stream(events: list[Any]) -> None:
    for cls in (OpenAIChatStream, OpenAIResponsesStream, AnthropicStream, GeminiStream):
        stream = cls()
        for event in events:
            stream.feed(event)
            check(stream.usage)
        check(stream.usage_or_estimate())


@RELAXED
@given(st.binary(max_size=300))
def test_no_bytes_break_a_stream(raw: bytes) -> None:
    for cls in (OpenAIChatStream, OpenAIResponsesStream, AnthropicStream, GeminiStream):
        stream = cls()
        stream.feed_bytes(raw)
        stream.close()
        check(stream.usage)


# --- conservation for well-formed payloads -------------------------------------------------

# Each field is at most MAX_COUNT; keep the generated ones small enough that sums are too.
counts_ = st.integers(min_value=0, max_value=MAX_COUNT // 8)


@st.composite
def parts(draw: st.DrawFn, n: int) -> list[int]:
    """``n`` non-negative ints: the first is a whole, the others split part of it."""
    whole = draw(counts_)
    out = [whole]
    remaining = whole
    for _ in range(n - 1):
        piece = draw(st.integers(min_value=0, max_value=remaining))
        out.append(piece)
        remaining -= piece
    return out


@RELAXED
@given(parts(3), parts(2), st.booleans())
def test_openai_chat_conserves_the_prompt(
    prompt: list[int], completion: list[int], with_total: bool
) -> None:
    (p, cached, written), (c, reasoning) = prompt, completion
    usage: dict[str, Any] = {
        "prompt_tokens": p,
        "completion_tokens": c,
        "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    if with_total:
        usage["total_tokens"] = p + c
    counts = openai_chat_usage({"usage": usage})
    assert counts is not None
    assert counts.input_tokens + counts.cache_read_tokens + counts.cache_write_tokens == p
    assert (counts.cache_read_tokens, counts.cache_write_tokens) == (cached, written)
    assert (counts.output_tokens, counts.reasoning_tokens) == (c, reasoning)
    assert counts.total_tokens == p + c
    assert counts.details is None


@RELAXED
@given(parts(3), parts(2))
def test_openai_responses_conserves_the_input(inp: list[int], out: list[int]) -> None:
    (i, cached, written), (o, reasoning) = inp, out
    usage = {
        "input_tokens": i,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": o,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": i + o,
    }
    counts = openai_responses_usage({"type": "response.completed", "response": {"usage": usage}})
    assert counts is not None
    assert counts.input_tokens + counts.cache_read_tokens + counts.cache_write_tokens == i
    assert counts.total_tokens == i + o and counts.reasoning_tokens == reasoning
    assert counts.details is None


@RELAXED
@given(counts_, counts_, counts_, counts_, parts(2), st.booleans())
def test_anthropic_keeps_every_field(
    fresh: int, read: int, five: int, hour: int, out: list[int], split: bool
) -> None:
    o, thinking = out
    usage: dict[str, Any] = {
        "input_tokens": fresh,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": five + hour,
        "output_tokens": o,
        "output_tokens_details": {"thinking_tokens": thinking},
    }
    if split:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": five,
            "ephemeral_1h_input_tokens": hour,
        }
    counts = anthropic_usage({"usage": usage})
    assert counts is not None
    assert counts.input_tokens == fresh and counts.cache_read_tokens == read
    if split:
        assert (counts.cache_write_tokens, counts.cache_write_1h_tokens) == (five, hour)
    else:
        assert (counts.cache_write_tokens, counts.cache_write_1h_tokens) == (five + hour, 0)
    assert counts.total_tokens == fresh + read + five + hour + o
    assert counts.reasoning_tokens == thinking


@RELAXED
@given(parts(2), counts_, counts_, counts_)
def test_gemini_conserves_the_total(
    prompt: list[int], candidates: int, thoughts: int, tool: int
) -> None:
    p, cached = prompt
    total = p + candidates + thoughts + tool
    meta = {
        "promptTokenCount": p,
        "cachedContentTokenCount": cached,
        "candidatesTokenCount": candidates,
        "thoughtsTokenCount": thoughts,
        "toolUsePromptTokenCount": tool,
        "totalTokenCount": total,
    }
    counts = gemini_usage({"usageMetadata": meta})
    assert counts is not None
    assert counts.input_tokens + counts.cache_read_tokens == p + tool
    assert counts.output_tokens == candidates + thoughts
    assert counts.reasoning_tokens == thoughts
    assert counts.total_tokens == total
    assert "reported_total_tokens" not in (counts.details or {})


@RELAXED
@given(parts(2), counts_, st.booleans())
def test_deepseek_counts_the_cache_once(prompt: list[int], c: int, with_details: bool) -> None:
    p, hit = prompt
    usage: dict[str, Any] = {
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        "prompt_cache_hit_tokens": hit,
        "prompt_cache_miss_tokens": p - hit,
    }
    if with_details:
        usage["prompt_tokens_details"] = {"cached_tokens": hit}
    counts = deepseek_usage({"usage": usage})
    assert counts is not None
    assert (counts.input_tokens, counts.cache_read_tokens) == (p - hit, hit)
    assert counts.total_tokens == p + c


@RELAXED
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=8))
def test_anthropic_stream_takes_the_last_cumulative_output(outputs: list[int]) -> None:
    stream = AnthropicStream()
    stream.feed(
        {"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}}
    )
    for value in outputs:
        stream.feed({"type": "message_delta", "delta": {}, "usage": {"output_tokens": value}})
    assert stream.usage == TokenCounts(input_tokens=9, output_tokens=outputs[-1])

"""OpenAI-compatible vendors, OpenRouter's reported cost, and shape detection."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from llmledger.usage import (
    TokenCounts,
    dashscope_usage,
    deepseek_usage,
    detect_shape,
    hunyuan_usage,
    moonshot_usage,
    normalize_usage,
    openrouter_cost,
    openrouter_usage,
)

Form = Callable[[Any], Any]


def completion(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "0f1e2d3c",
        "object": "chat.completion",
        "created": 1737000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok"},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


# --- DeepSeek ------------------------------------------------------------------------------


def test_deepseek_hit_and_miss_only(form: Form) -> None:
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_cache_hit_tokens": 1024,
        "prompt_cache_miss_tokens": 176,
    }
    assert deepseek_usage(form(completion("deepseek-chat", usage))) == TokenCounts(
        input_tokens=176, cache_read_tokens=1024, output_tokens=300
    )


def test_deepseek_both_cache_fields_are_counted_once(form: Form) -> None:
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 900,
        "total_tokens": 2100,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 650},
        "prompt_cache_hit_tokens": 1024,
        "prompt_cache_miss_tokens": 176,
    }
    counts = deepseek_usage(form(completion("deepseek-reasoner", usage)))
    assert counts == TokenCounts(
        input_tokens=176, cache_read_tokens=1024, output_tokens=900, reasoning_tokens=650
    )
    assert counts is not None and counts.total_tokens == 2100


def test_deepseek_disagreeing_cache_fields_take_the_larger_and_keep_both(form: Form) -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 1,
        "prompt_tokens_details": {"cached_tokens": 64},
        "prompt_cache_hit_tokens": 80,
        "prompt_cache_miss_tokens": 20,
    }
    counts = deepseek_usage(form(completion("deepseek-chat", usage)))
    assert counts is not None
    assert (counts.input_tokens, counts.cache_read_tokens) == (20, 80)
    assert counts.details == {
        "cache_read_reports": {
            "prompt_tokens_details.cached_tokens": 64,
            "prompt_cache_hit_tokens": 80,
        }
    }


def test_deepseek_prompt_rebuilt_from_hit_and_miss(form: Form) -> None:
    usage = {"completion_tokens": 3, "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 6}
    assert deepseek_usage(form({"usage": usage})) == TokenCounts(
        input_tokens=6, cache_read_tokens=64, output_tokens=3
    )
    only_miss = {"prompt_tokens": 70, "completion_tokens": 3, "prompt_cache_miss_tokens": 6}
    assert deepseek_usage(form({"usage": only_miss})) == TokenCounts(
        input_tokens=6, cache_read_tokens=64, output_tokens=3
    )


# --- DashScope / Qwen ----------------------------------------------------------------------


def test_dashscope_implicit_cache_hit(form: Form) -> None:
    usage = {
        "prompt_tokens": 3019,
        "completion_tokens": 104,
        "total_tokens": 3123,
        "prompt_tokens_details": {"cached_tokens": 2048},
    }
    assert dashscope_usage(form(completion("qwen-plus", usage))) == TokenCounts(
        input_tokens=971, cache_read_tokens=2048, output_tokens=104
    )


def test_dashscope_explicit_cache_creation(form: Form) -> None:
    usage = {
        "prompt_tokens": 3019,
        "completion_tokens": 104,
        "total_tokens": 3123,
        "prompt_tokens_details": {
            "cached_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 2048},
            "cache_creation_input_tokens": 2048,
            "cache_type": "ephemeral",
        },
    }
    counts = dashscope_usage(form(completion("qwen3-max", usage)))
    assert counts == TokenCounts(input_tokens=971, cache_write_tokens=2048, output_tokens=104)
    assert counts is not None and counts.total_tokens == 3123


# --- Moonshot / Kimi -----------------------------------------------------------------------


def test_kimi_usage_inside_the_choice(form: Form) -> None:
    chunk = {
        "id": "cmpl-1305b94c570f447fbde3180560736287",
        "object": "chat.completion.chunk",
        "created": 1698999575,
        "model": "moonshot-v1-8k",
        "choices": [
            {
                "index": 0,
                "delta": {},
                "finish_reason": "stop",
                "usage": {"prompt_tokens": 10, "completion_tokens": 79, "total_tokens": 89},
            }
        ],
    }
    assert moonshot_usage(form(chunk)) == TokenCounts(input_tokens=10, output_tokens=79)


def test_moonshot_legacy_top_level_cached_tokens(form: Form) -> None:
    usage = {
        "prompt_tokens": 5000,
        "completion_tokens": 40,
        "total_tokens": 5040,
        "cached_tokens": 4800,
    }
    assert moonshot_usage(form(completion("kimi-k2-0905-preview", usage))) == TokenCounts(
        input_tokens=200, cache_read_tokens=4800, output_tokens=40
    )


# --- Tencent Hunyuan -----------------------------------------------------------------------


def test_hunyuan_openai_shape(form: Form) -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}
    assert hunyuan_usage(form(completion("hunyuan-turbos-latest", usage))) == TokenCounts(
        input_tokens=12, output_tokens=34
    )


# --- OpenRouter ----------------------------------------------------------------------------

OPENROUTER_USAGE = {
    "completion_tokens": 2,
    "completion_tokens_details": {"reasoning_tokens": 0},
    "cost": 0.95,
    "cost_details": {"upstream_inference_cost": 19},
    "prompt_tokens": 194,
    "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 100, "audio_tokens": 0},
    "total_tokens": 196,
}


def test_openrouter_reported_cost(form: Form) -> None:
    chunk = {"object": "chat.completion.chunk", "usage": OPENROUTER_USAGE}
    counts = openrouter_usage(form(chunk))
    assert counts == TokenCounts(
        input_tokens=94,
        cache_write_tokens=100,
        output_tokens=2,
        reported_cost=Decimal("0.95"),
    )
    assert counts is not None and counts.total_tokens == 196


def test_openrouter_byok_adds_the_upstream_cost(form: Form) -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "total_tokens": 12,
        "cost": 0.0001,
        "is_byok": True,
        "cost_details": {"upstream_inference_cost": 0.002},
    }
    counts = openrouter_usage(form(completion("anthropic/claude-sonnet-4.5", usage)))
    assert counts is not None
    assert counts.reported_cost == Decimal("0.0021")
    assert counts.details == {"is_byok": True, "upstream_inference_cost": "0.002"}


@pytest.mark.parametrize("cost", [None, "0.95", -1, float("nan"), float("inf"), True, [0.5]])
def test_openrouter_without_a_usable_cost(cost: object, form: Form) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "cost": cost}
    counts = openrouter_usage(form({"usage": usage}))
    assert counts == TokenCounts(input_tokens=10, output_tokens=2)
    assert openrouter_cost(form({"usage": usage})) is None


def test_openrouter_zero_cost_is_a_reported_zero(form: Form) -> None:
    counts = openrouter_usage(form({"usage": {"prompt_tokens": 1, "cost": 0}}))
    assert counts is not None and counts.reported_cost == Decimal(0)


# --- normalize_usage / detect_shape --------------------------------------------------------

SHAPES: list[tuple[str, dict[str, Any], TokenCounts]] = [
    (
        "openai_chat",
        {
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": 4},
            }
        },
        TokenCounts(input_tokens=6, cache_read_tokens=4, output_tokens=2),
    ),
    (
        "openai_chat",
        {"choices": [{"delta": {}, "usage": {"prompt_tokens": 10, "completion_tokens": 2}}]},
        TokenCounts(input_tokens=10, output_tokens=2),
    ),
    (
        "openai_responses",
        {
            "type": "response.completed",
            "response": {
                "usage": {
                    "input_tokens": 10,
                    "input_tokens_details": {"cached_tokens": 4},
                    "output_tokens": 2,
                    "output_tokens_details": {"reasoning_tokens": 1},
                }
            },
        },
        TokenCounts(input_tokens=6, cache_read_tokens=4, output_tokens=2, reasoning_tokens=1),
    ),
    (
        "anthropic",
        {"usage": {"input_tokens": 10, "output_tokens": 2, "cache_read_input_tokens": 4}},
        TokenCounts(input_tokens=10, cache_read_tokens=4, output_tokens=2),
    ),
    (
        "anthropic",
        {"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}},
        TokenCounts(input_tokens=10, output_tokens=1),
    ),
    (
        "anthropic",  # plain input/output reads the same under both conventions
        {"usage": {"input_tokens": 10, "output_tokens": 2}},
        TokenCounts(input_tokens=10, output_tokens=2),
    ),
    (
        "gemini",
        {"usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2}},
        TokenCounts(input_tokens=10, output_tokens=2),
    ),
]


@pytest.mark.parametrize(("shape", "payload", "expected"), SHAPES)
def test_normalize_usage_detects_the_shape(
    shape: str, payload: dict[str, Any], expected: TokenCounts, form: Form
) -> None:
    assert detect_shape(form(payload)) == shape
    assert normalize_usage(form(payload)) == expected


@pytest.mark.parametrize("payload", [None, 0, "usage", [], {}, {"usage": None}, {"id": "x"}])
def test_normalize_usage_without_usage(payload: object) -> None:
    assert detect_shape(payload) is None
    assert normalize_usage(payload) is None


def test_normalize_usage_reads_openrouter_cost_only_for_openrouter(form: Form) -> None:
    payload = form({"usage": OPENROUTER_USAGE})
    assert normalize_usage(payload) is not None
    assert normalize_usage(payload).reported_cost is None  # type: ignore[union-attr]
    counts = normalize_usage(payload, provider="OpenRouter")
    assert counts is not None and counts.reported_cost == Decimal("0.95")

"""Gemini usageMetadata, REST (camelCase) and google-genai SDK (snake_case) spellings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmledger.usage import TokenCounts, gemini_usage

Form = Callable[[Any], Any]

RESPONSE = {
    "candidates": [
        {
            "content": {"parts": [{"text": "The sky is blue."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 1200,
        "candidatesTokenCount": 300,
        "cachedContentTokenCount": 1000,
        "thoughtsTokenCount": 700,
        "toolUsePromptTokenCount": 50,
        "totalTokenCount": 2250,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}],
    },
    "modelVersion": "gemini-2.5-pro",
    "responseId": "mIbHaLWZFdOUxN8Pr9vW0Qs",
}

EXPECTED = TokenCounts(
    input_tokens=250,  # 1200 prompt + 50 tool-use prompt - 1000 cached
    cache_read_tokens=1000,
    output_tokens=1000,  # 300 candidates + 700 thoughts
    reasoning_tokens=700,
    details={"tool_use_prompt_tokens": 50},
)


def test_rest_shape(form: Form) -> None:
    counts = gemini_usage(form(RESPONSE))
    assert counts == EXPECTED
    assert counts is not None and counts.total_tokens == 2250


def test_sdk_snake_case_shape(form: Form) -> None:
    response = {
        "candidates": [],
        "model_version": "gemini-2.5-pro",
        "usage_metadata": {
            "prompt_token_count": 1200,
            "candidates_token_count": 300,
            "cached_content_token_count": 1000,
            "thoughts_token_count": 700,
            "tool_use_prompt_token_count": 50,
            "total_token_count": 2250,
        },
    }
    assert gemini_usage(form(response)) == EXPECTED


def test_bare_usage_metadata(form: Form) -> None:
    usage = {"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 13}
    assert gemini_usage(form(usage)) == TokenCounts(input_tokens=8, output_tokens=5)


def test_no_usage_is_none(form: Form) -> None:
    assert gemini_usage(form({"candidates": []})) is None
    assert gemini_usage(form({"candidates": [], "usageMetadata": {}})) is None


def test_cached_above_prompt_clamps(form: Form) -> None:
    usage = {"usageMetadata": {"promptTokenCount": 10, "cachedContentTokenCount": 12}}
    counts = gemini_usage(form(usage))
    assert counts is not None
    assert (counts.input_tokens, counts.cache_read_tokens) == (0, 12)
    assert counts.details == {"clamped": {"input_tokens": -2}}

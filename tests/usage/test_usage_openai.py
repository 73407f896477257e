"""OpenAI Chat Completions, Responses and embeddings usage, in their wire shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llmledger.usage import (
    TokenCounts,
    openai_chat_usage,
    openai_embeddings_usage,
    openai_responses_usage,
)

Form = Callable[[Any], Any]

CHAT_COMPLETION = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4.1-2025-04-14",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 125,
        "completion_tokens": 48,
        "total_tokens": 173,
        "prompt_tokens_details": {"cached_tokens": 98, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
}


def chat(usage: dict[str, Any], **response: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "o3",
        **response,
        "usage": usage,
    }


def test_chat_spec_example(form: Form) -> None:
    counts = openai_chat_usage(form(CHAT_COMPLETION))
    assert counts == TokenCounts(
        input_tokens=27,  # 125 prompt - 98 cached
        cache_read_tokens=98,
        output_tokens=48,
        details={"service_tier": "default"},
    )
    assert counts is not None and counts.total_tokens == 173


def test_chat_bare_usage_object_is_accepted(form: Form) -> None:
    assert openai_chat_usage(form(CHAT_COMPLETION["usage"])) == TokenCounts(
        input_tokens=27, cache_read_tokens=98, output_tokens=48
    )


def test_chat_reasoning_is_part_of_output(form: Form) -> None:
    payload = chat(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 2500,
            "total_tokens": 3500,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 2048},
        }
    )
    assert openai_chat_usage(form(payload)) == TokenCounts(
        input_tokens=1000, output_tokens=2500, reasoning_tokens=2048
    )


def test_chat_cache_writes_come_out_of_the_prompt(form: Form) -> None:
    payload = chat(
        {
            "prompt_tokens": 5000,
            "completion_tokens": 20,
            "total_tokens": 5020,
            "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 3500},
        }
    )
    counts = openai_chat_usage(form(payload))
    assert counts == TokenCounts(
        input_tokens=500, cache_read_tokens=1000, cache_write_tokens=3500, output_tokens=20
    )
    assert counts is not None and counts.total_tokens == 5020


def test_chat_details_may_be_null_or_absent(form: Form) -> None:
    for usage in (
        {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
        {
            "prompt_tokens": 9,
            "completion_tokens": 12,
            "total_tokens": 21,
            "prompt_tokens_details": None,
            "completion_tokens_details": None,
        },
        {
            "prompt_tokens": 9,
            "completion_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": None},
            "completion_tokens_details": {"reasoning_tokens": None},
        },
    ):
        assert openai_chat_usage(form(chat(usage))) == TokenCounts(input_tokens=9, output_tokens=12)


def test_chat_audio_and_prediction_tokens_go_to_details(form: Form) -> None:
    payload = chat(
        {
            "prompt_tokens": 100,
            "completion_tokens": 60,
            "total_tokens": 160,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 40},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 30,
                "accepted_prediction_tokens": 5,
                "rejected_prediction_tokens": 7,
            },
        },
        service_tier="flex",
    )
    counts = openai_chat_usage(form(payload))
    assert counts is not None
    assert counts.details == {
        "input_audio_tokens": 40,
        "output_audio_tokens": 30,
        "accepted_prediction_tokens": 5,
        "rejected_prediction_tokens": 7,
        "service_tier": "flex",
    }


@pytest.mark.parametrize(
    "chunk",
    [
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
            "usage": None,
        },
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
        },
        {},
        {"usage": None},
        {"usage": {}},
        {"choices": []},
    ],
)
def test_chat_without_usage_is_none(chunk: dict[str, Any], form: Form) -> None:
    assert openai_chat_usage(form(chunk)) is None


def test_chat_final_stream_chunk(form: Form) -> None:
    chunk = {
        "id": "chatcmpl-B9",
        "object": "chat.completion.chunk",
        "created": 1728933352,
        "model": "gpt-4o-2024-08-06",
        "choices": [],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29},
    }
    assert openai_chat_usage(form(chunk)) == TokenCounts(input_tokens=19, output_tokens=10)


def test_chat_cached_above_prompt_clamps_fresh_input_and_says_so(form: Form) -> None:
    payload = chat(
        {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "total_tokens": 105,
            "prompt_tokens_details": {"cached_tokens": 130},
        }
    )
    counts = openai_chat_usage(form(payload))
    assert counts is not None
    assert (counts.input_tokens, counts.cache_read_tokens, counts.output_tokens) == (0, 130, 5)
    assert counts.details == {"clamped": {"input_tokens": -30}, "reported_total_tokens": 105}


def test_chat_reasoning_above_output_is_clamped(form: Form) -> None:
    payload = chat(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "completion_tokens_details": {"reasoning_tokens": 9},
        }
    )
    counts = openai_chat_usage(form(payload))
    assert counts is not None
    assert (counts.output_tokens, counts.reasoning_tokens) == (5, 5)
    assert counts.details == {"clamped": {"reasoning_tokens": 9}}


def test_chat_malformed_fields_read_as_missing_and_are_noted(form: Form) -> None:
    payload = chat(
        {
            "prompt_tokens": "125",
            "completion_tokens": -4,
            "total_tokens": None,
            "prompt_tokens_details": "garbage",
            "completion_tokens_details": {"reasoning_tokens": [1, 2]},
        }
    )
    assert openai_chat_usage(form(payload)) is None  # no usable count at all
    payload["usage"]["completion_tokens"] = 7.0  # integral floats are fine
    counts = openai_chat_usage(form(payload))
    assert counts is not None
    assert (counts.input_tokens, counts.output_tokens, counts.reasoning_tokens) == (0, 7, 0)
    assert counts.details == {
        "invalid": {
            "prompt_tokens": "'125'",
            "completion_tokens_details.reasoning_tokens": "[1, 2]",
        }
    }


def test_chat_reported_total_is_kept_only_when_it_disagrees(form: Form) -> None:
    payload = chat({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 16})
    counts = openai_chat_usage(form(payload))
    assert counts is not None and counts.details == {"reported_total_tokens": 16}


def test_chat_huge_and_non_finite_values_are_rejected() -> None:
    usage = {"prompt_tokens": 10**30, "completion_tokens": float("inf"), "total_tokens": 2**53}
    counts = openai_chat_usage({"usage": usage})
    assert counts is None


# --- Responses API -----------------------------------------------------------------------

RESPONSE = {
    "id": "resp_67ccd2bed1ec8190b14f964abc054267",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi there", "annotations": []}],
        }
    ],
    "service_tier": "default",
    "usage": {
        "input_tokens": 125,
        "input_tokens_details": {"cached_tokens": 98},
        "output_tokens": 48,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 173,
    },
}


def test_responses_spec_example(form: Form) -> None:
    assert openai_responses_usage(form(RESPONSE)) == TokenCounts(
        input_tokens=27, cache_read_tokens=98, output_tokens=48, details={"service_tier": "default"}
    )


@pytest.mark.parametrize("kind", ["response.completed", "response.incomplete", "response.failed"])
def test_responses_terminal_event(kind: str, form: Form) -> None:
    event = {"type": kind, "sequence_number": 12, "response": RESPONSE}
    counts = openai_responses_usage(form(event))
    assert counts is not None and counts.total_tokens == 173 and counts.input_tokens == 27


def test_responses_created_event_has_no_usage(form: Form) -> None:
    event = {
        "type": "response.created",
        "sequence_number": 0,
        "response": {**RESPONSE, "status": "in_progress", "output": [], "usage": None},
    }
    assert openai_responses_usage(form(event)) is None


def test_responses_reasoning_and_cache_writes(form: Form) -> None:
    usage = {
        "input_tokens": 20000,
        "input_tokens_details": {
            "cached_tokens": 15000,
            "cache_write_tokens": 4000,
            "cache_write_tokens_details": {"ttl_30m_tokens": 3000, "ttl_12h_tokens": 1000},
        },
        "output_tokens": 900,
        "output_tokens_details": {"reasoning_tokens": 640},
        "total_tokens": 20900,
    }
    assert openai_responses_usage(form({"usage": usage})) == TokenCounts(
        input_tokens=1000,
        cache_read_tokens=15000,
        cache_write_tokens=4000,
        output_tokens=900,
        reasoning_tokens=640,
        details={"cache_write_ttl_30m_tokens": 3000, "cache_write_ttl_12h_tokens": 1000},
    )


# --- Embeddings ---------------------------------------------------------------------------


def test_embeddings_usage(form: Form) -> None:
    payload = {
        "object": "list",
        "data": [{"object": "embedding", "embedding": [0.0023, -0.0093], "index": 0}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }
    assert openai_embeddings_usage(form(payload)) == TokenCounts(input_tokens=8)
    assert openai_embeddings_usage(form({"usage": {"total_tokens": 5}})) == TokenCounts(
        input_tokens=5
    )
    assert openai_embeddings_usage(form({"object": "list", "data": []})) is None

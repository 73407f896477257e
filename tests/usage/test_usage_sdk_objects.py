"""Real SDK objects (openai, anthropic) when those packages are installed."""

from __future__ import annotations

from typing import Any

import pytest

from llmledger.usage import (
    AnthropicStream,
    OpenAIChatStream,
    OpenAIResponsesStream,
    TokenCounts,
    anthropic_usage,
    deepseek_usage,
    openai_chat_usage,
    openai_responses_usage,
    openrouter_usage,
)


def chat_completion(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4.1",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}
        ],
        "usage": usage,
    }


def test_openai_chat_completion_object() -> None:
    chat = pytest.importorskip("openai.types.chat")
    response = chat.ChatCompletion.model_validate(
        chat_completion(
            {
                "prompt_tokens": 125,
                "completion_tokens": 48,
                "total_tokens": 173,
                "prompt_tokens_details": {"cached_tokens": 98, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 16},
            }
        )
    )
    assert openai_chat_usage(response) == TokenCounts(
        input_tokens=27, cache_read_tokens=98, output_tokens=48, reasoning_tokens=16
    )
    assert openai_chat_usage(response.usage) == openai_chat_usage(response)


def test_vendor_extras_survive_in_openai_objects() -> None:
    chat = pytest.importorskip("openai.types.chat")
    deepseek = chat.ChatCompletion.model_validate(
        chat_completion(
            {
                "prompt_tokens": 1200,
                "completion_tokens": 3,
                "total_tokens": 1203,
                "prompt_cache_hit_tokens": 1024,
                "prompt_cache_miss_tokens": 176,
            }
        )
    )
    assert deepseek_usage(deepseek) == TokenCounts(
        input_tokens=176, cache_read_tokens=1024, output_tokens=3
    )
    openrouter = chat.ChatCompletion.model_validate(
        chat_completion(
            {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "total_tokens": 12,
                "cost": 0.0005,
            }
        )
    )
    counts = openrouter_usage(openrouter)
    assert counts is not None and str(counts.reported_cost) == "0.0005"


def test_openai_chat_chunks() -> None:
    chat = pytest.importorskip("openai.types.chat")
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {
            **base,
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        },
    ]
    stream = OpenAIChatStream()
    for chunk in chunks:
        stream.feed(chat.ChatCompletionChunk.model_validate(chunk))
    assert stream.usage == TokenCounts(input_tokens=5, output_tokens=2)
    assert stream.text == "Hello" and stream.model == "gpt-4o"


def test_openai_responses_events() -> None:
    responses = pytest.importorskip("openai.types.responses")
    response = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-5",
        "status": "completed",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 0},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 20},
            "total_tokens": 130,
        },
    }
    event = responses.ResponseCompletedEvent.model_validate(
        {"type": "response.completed", "sequence_number": 3, "response": response}
    )
    expected = TokenCounts(
        input_tokens=40, cache_read_tokens=60, output_tokens=30, reasoning_tokens=20
    )
    assert openai_responses_usage(event) == expected
    stream = OpenAIResponsesStream()
    stream.feed(
        responses.ResponseTextDeltaEvent.model_validate(
            {
                "type": "response.output_text.delta",
                "sequence_number": 2,
                "item_id": "m",
                "output_index": 0,
                "content_index": 0,
                "delta": "Hi",
                "logprobs": [],
            }
        )
    )
    stream.feed(event)
    assert (stream.usage, stream.text, stream.finished) == (expected, "Hi", True)


def test_anthropic_message_and_stream_events() -> None:
    types = pytest.importorskip("anthropic.types")
    message = types.Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-opus-4-1",
            "content": [{"type": "text", "text": "Hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 3,
                "output_tokens": 550,
                "cache_creation_input_tokens": 300,
                "cache_read_input_tokens": 1000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 100,
                    "ephemeral_1h_input_tokens": 200,
                },
                "service_tier": "standard",
            },
        }
    )
    assert anthropic_usage(message) == TokenCounts(
        input_tokens=3,
        cache_read_tokens=1000,
        cache_write_tokens=100,
        cache_write_1h_tokens=200,
        output_tokens=550,
        details={"service_tier": "standard"},
    )
    start = types.RawMessageStartEvent.model_validate(
        {
            "type": "message_start",
            "message": {**message.model_dump(), "content": [], "stop_reason": None},
        }
    )
    delta = types.RawMessageDeltaEvent.model_validate(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 600},
        }
    )
    stream = AnthropicStream()
    stream.feed(start)
    stream.feed(delta)
    stream.feed(delta)
    assert stream.usage is not None
    assert stream.usage.output_tokens == 600  # not 550 + 600 + 600
    assert stream.usage.cache_write_1h_tokens == 200
    assert stream.response_id == "msg_1" and stream.stop_reason == "end_turn"

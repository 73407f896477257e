"""Stream accumulators fed realistic SSE transcripts, whole and split at every byte."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from llmledger.estimate import estimate_tokens, tokenizer_name
from llmledger.usage import (
    AnthropicStream,
    GeminiStream,
    OpenAIChatStream,
    OpenAIResponsesStream,
    StreamAccumulator,
    TokenCounts,
    openrouter_usage,
    stream_for,
)

Form = Callable[[Any], Any]


def sse(*events: dict[str, Any] | str, named: bool = False, eol: str = "\n") -> bytes:
    out = []
    for event in events:
        if isinstance(event, str):
            out.append(f"data: {event}{eol}{eol}")
            continue
        name = f"event: {event['type']}{eol}" if named else ""
        out.append(f"{name}data: {json.dumps(event, ensure_ascii=False)}{eol}{eol}")
    return "".join(out).encode()


S = TypeVar("S", bound=StreamAccumulator)


def run(stream: S, raw: bytes, step: int | None = None) -> S:
    if step is None:
        stream.feed_bytes(raw)
    else:
        for i in range(0, len(raw), step):
            stream.feed_bytes(raw[i : i + step])
    stream.close()
    return stream


def chat_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion.chunk",
        "created": 1728933352,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
        **extra,
    }


OPENAI_USAGE = {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
OPENAI_CHUNKS: list[dict[str, Any] | str] = [
    chat_chunk({"role": "assistant", "content": "", "refusal": None}),
    chat_chunk({"content": "Hello"}),
    chat_chunk({"content": " there, 世界!"}),
    chat_chunk({}, "stop"),
    {**chat_chunk({}), "choices": [], "usage": OPENAI_USAGE},
    "[DONE]",
]
OPENAI_WITH_USAGE = sse(*OPENAI_CHUNKS)


@pytest.mark.parametrize("step", [None, 1, 7, 64])
def test_openai_chat_with_include_usage(step: int | None) -> None:
    stream = run(OpenAIChatStream(), OPENAI_WITH_USAGE, step)
    assert stream.usage == TokenCounts(input_tokens=19, output_tokens=10)
    assert stream.model == "gpt-4o-2024-08-06"
    assert stream.response_id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert stream.text == "Hello there, 世界!"
    assert stream.finished is True
    assert stream.usage_or_estimate(input_tokens=5) is stream.usage


def test_openai_chat_every_split_position() -> None:
    for cut in range(len(OPENAI_WITH_USAGE) + 1):
        stream = OpenAIChatStream()
        stream.feed_bytes(OPENAI_WITH_USAGE[:cut])
        stream.feed_bytes(OPENAI_WITH_USAGE[cut:])
        stream.close()
        assert stream.usage == TokenCounts(input_tokens=19, output_tokens=10), cut
        assert stream.text == "Hello there, 世界!", cut


def test_openai_chat_crlf_transcript() -> None:
    stream = run(OpenAIChatStream(), sse(*OPENAI_CHUNKS, eol="\r\n"), 3)
    assert stream.usage == TokenCounts(input_tokens=19, output_tokens=10)


def test_openai_chat_without_include_usage_has_no_usage() -> None:
    stream = run(OpenAIChatStream(), sse(*OPENAI_CHUNKS[:4], "[DONE]"))
    assert stream.usage is None
    assert stream.text == "Hello there, 世界!"
    assert stream.finished is True
    estimate = stream.usage_or_estimate(input_tokens=12)
    assert estimate.estimated is True
    assert estimate.input_tokens == 12
    assert estimate.output_tokens == estimate_tokens("Hello there, 世界!")  # the text received
    assert estimate.details == {"estimator": tokenizer_name()}


def test_openai_chat_cut_before_the_usage_chunk() -> None:
    cut = OPENAI_WITH_USAGE.index(b'"choices": []') - 10  # mid-line of the usage chunk
    stream = run(OpenAIChatStream(), OPENAI_WITH_USAGE[:cut])
    assert stream.usage is None
    assert stream.text == "Hello there, 世界!"
    assert stream.usage_or_estimate().estimated is True


def test_openai_chat_feed_sdk_like_objects(form: Form) -> None:
    stream = OpenAIChatStream()
    for chunk in OPENAI_CHUNKS[:-1]:
        stream.feed(form(chunk))
    assert stream.usage == TokenCounts(input_tokens=19, output_tokens=10)
    assert stream.text == "Hello there, 世界!"
    assert stream.events == 5


def test_openai_chat_tool_calls_and_reasoning_count_as_output_text() -> None:
    stream = OpenAIChatStream()
    stream.feed(chat_chunk({"reasoning_content": "think "}))
    stream.feed(
        chat_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":'},
                    }
                ]
            }
        )
    )
    stream.feed(chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}))
    assert stream.text == 'think get_weather{"city":"Paris"}'


def test_kimi_usage_inside_the_choice() -> None:
    base = {
        "id": "cmpl-1305b94c",
        "object": "chat.completion.chunk",
        "created": 1698999575,
        "model": "kimi-k2-turbo-preview",
    }
    raw = sse(
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        },
        {**base, "choices": [{"index": 0, "delta": {"content": "你好"}, "finish_reason": None}]},
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": {},
                    "finish_reason": "stop",
                    "usage": {
                        "prompt_tokens": 19,
                        "completion_tokens": 13,
                        "total_tokens": 32,
                        "cached_tokens": 16,
                    },
                }
            ],
        },
        "[DONE]",
    )
    stream = run(OpenAIChatStream(), raw, 5)
    assert stream.usage == TokenCounts(input_tokens=3, cache_read_tokens=16, output_tokens=13)
    assert stream.model == "kimi-k2-turbo-preview"
    assert stream.text == "你好"


def test_deepseek_reasoner_stream_with_cache_fields() -> None:
    base = {
        "id": "2d5e6f",
        "object": "chat.completion.chunk",
        "created": 1737000000,
        "model": "deepseek-reasoner",
        "system_fingerprint": "fp_7e73fd9a08_prod0425fp8",
    }
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 120,
        "total_tokens": 1320,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 95},
        "prompt_cache_hit_tokens": 1024,
        "prompt_cache_miss_tokens": 176,
    }
    raw = sse(
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": None, "reasoning_content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        },
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": None, "reasoning_content": "Let me see."},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        },
        {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "42", "reasoning_content": None},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        },
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"content": ""}, "logprobs": None, "finish_reason": "stop"}
            ],
            "usage": usage,
        },
        "[DONE]",
    )
    stream = run(OpenAIChatStream(), raw)
    assert stream.usage == TokenCounts(
        input_tokens=176, cache_read_tokens=1024, output_tokens=120, reasoning_tokens=95
    )
    assert stream.text == "Let me see.42"


def test_openrouter_stream_reports_cost() -> None:
    usage = {"prompt_tokens": 194, "completion_tokens": 2, "total_tokens": 196, "cost": 0.95}
    raw = b": OPENROUTER PROCESSING\n\n" + sse(
        chat_chunk({"content": "ok"}), {**chat_chunk({}), "choices": [], "usage": usage}, "[DONE]"
    )
    for stream in (OpenAIChatStream(openrouter_usage), stream_for("openai_chat", "openrouter")):
        run(stream, raw, 11)
        assert stream.usage == TokenCounts(
            input_tokens=194, output_tokens=2, reported_cost=Decimal("0.95")
        )


def test_usage_may_repeat_and_the_latest_wins() -> None:
    stream = OpenAIChatStream()
    stream.feed(
        {**chat_chunk({"content": "a"}), "usage": {"prompt_tokens": 5, "completion_tokens": 1}}
    )
    stream.feed(
        {**chat_chunk({"content": "b"}), "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
    )
    stream.feed(chat_chunk({"content": "c"}))  # usage: null does not erase it
    assert stream.usage == TokenCounts(input_tokens=5, output_tokens=2)


# --- Anthropic ------------------------------------------------------------------------------

ANTHROPIC_EVENTS: list[dict[str, Any] | str] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5-20250929",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 25,
                "cache_creation_input_tokens": 1200,
                "cache_read_input_tokens": 3000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 1000,
                    "ephemeral_1h_input_tokens": 200,
                },
                "output_tokens": 1,
                "service_tier": "standard",
            },
        },
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {"type": "ping"},
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "Let me think. "},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hello"}},
    {
        "type": "message_delta",
        "delta": {"stop_reason": None, "stop_sequence": None},
        "usage": {"output_tokens": 40},
    },
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "!"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": None, "stop_sequence": None},
        "usage": {
            "input_tokens": 25,
            "cache_creation_input_tokens": 1200,
            "cache_read_input_tokens": 3000,
            "output_tokens": 89,
        },
    },
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": None,
            "cache_creation_input_tokens": None,
            "cache_read_input_tokens": None,
            "output_tokens": 120,
            "output_tokens_details": {"thinking_tokens": 30},
            "server_tool_use": {"web_search_requests": 1},
        },
    },
    {"type": "message_stop"},
]
ANTHROPIC_EXPECTED = TokenCounts(
    input_tokens=25,
    cache_read_tokens=3000,
    cache_write_tokens=1000,
    cache_write_1h_tokens=200,
    output_tokens=120,  # the last cumulative value, not 1 + 40 + 89 + 120
    reasoning_tokens=30,
    details={"server_tool_use": {"web_search_requests": 1}, "service_tier": "standard"},
)


@pytest.mark.parametrize("step", [None, 1, 13])
def test_anthropic_cumulative_deltas_are_not_summed(step: int | None) -> None:
    stream = run(AnthropicStream(), sse(*ANTHROPIC_EVENTS, named=True), step)
    assert stream.usage == ANTHROPIC_EXPECTED
    assert stream.model == "claude-sonnet-4-5-20250929"
    assert stream.response_id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert stream.text == 'Let me think. Hello!{"city": "Paris"}'
    assert stream.stop_reason == "tool_use"
    assert stream.finished is True


def test_anthropic_usage_at_each_point(form: Form) -> None:
    stream = AnthropicStream()
    outputs = []
    for event in ANTHROPIC_EVENTS:
        stream.feed(form(event))
        assert stream.usage is not None
        outputs.append(stream.usage.output_tokens)
        assert stream.usage.input_tokens == 25
        assert stream.usage.cache_read_tokens == 3000
    assert outputs[0] == 1 and outputs[-1] == 120
    assert sorted(set(outputs)) == [1, 40, 89, 120]
    assert stream.usage == ANTHROPIC_EXPECTED


def test_anthropic_delta_may_correct_input_counts() -> None:
    # Some Anthropic-compatible endpoints report zeros in message_start and the real
    # numbers in the final message_delta: the latest non-null value wins.
    stream = AnthropicStream()
    stream.feed(
        {
            "type": "message_start",
            "message": {
                "id": "m",
                "model": "glm-4.6",
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
        }
    )
    stream.feed(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 812, "output_tokens": 77, "cache_read_input_tokens": 64},
        }
    )
    stream.feed({"type": "message_stop"})
    assert stream.usage == TokenCounts(input_tokens=812, cache_read_tokens=64, output_tokens=77)


def test_anthropic_malformed_delta_values_do_not_erase_good_ones() -> None:
    stream = AnthropicStream()
    stream.feed(ANTHROPIC_EVENTS[0])
    stream.feed(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": -1, "cache_read_input_tokens": True, "output_tokens": 7},
        }
    )
    assert stream.usage is not None
    assert (stream.usage.input_tokens, stream.usage.cache_read_tokens) == (25, 3000)
    assert stream.usage.output_tokens == 7


def test_anthropic_stream_cut_after_message_start() -> None:
    raw = sse(*ANTHROPIC_EVENTS[:8], named=True)
    stream = run(AnthropicStream(), raw)
    assert stream.usage is not None and stream.usage.output_tokens == 1
    assert not stream.finished
    assert stream.text == "Let me think. Hello"
    # The input side is reported; the output so far is estimated from the text.
    estimate = stream.usage_or_estimate(input_tokens=999)
    assert estimate.estimated is True
    assert (estimate.input_tokens, estimate.cache_read_tokens) == (25, 3000)
    assert (estimate.cache_write_tokens, estimate.cache_write_1h_tokens) == (1000, 200)
    assert estimate.output_tokens == estimate_tokens("Let me think. Hello")
    assert estimate.details == {
        "service_tier": "standard",  # from message_start's usage
        "reported_output_tokens": 1,
        "estimator": tokenizer_name(),
    }


def test_anthropic_final_delta_is_enough_to_finish() -> None:
    stream = run(AnthropicStream(), sse(*ANTHROPIC_EVENTS[:-1], named=True))  # no message_stop
    assert stream.finished is True
    assert stream.usage_or_estimate() == ANTHROPIC_EXPECTED


def test_partial_usage_larger_than_the_estimate_is_kept() -> None:
    stream = AnthropicStream()
    stream.feed(ANTHROPIC_EVENTS[0])
    stream.feed(ANTHROPIC_EVENTS[8])  # message_delta: output_tokens 40, no stop reason
    assert not stream.finished
    assert stream.usage is not None
    estimate = stream.usage_or_estimate()
    # The reported 40 beats the estimate of no text, but the stream never finished: flagged.
    assert estimate.output_tokens == stream.usage.output_tokens == 40
    assert estimate.input_tokens == stream.usage.input_tokens
    assert (estimate.estimated, stream.usage.estimated) == (True, False)
    assert estimate.details is not None and estimate.details["reported_output_tokens"] == 40


# --- Responses API --------------------------------------------------------------------------

RESPONSE_BASE = {
    "id": "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654",
    "object": "response",
    "created_at": 1741290958,
    "model": "gpt-5-2025-08-07",
    "output": [],
    "usage": None,
}
RESPONSE_USAGE = {
    "input_tokens": 37,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 11,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 48,
}


def responses_transcript(terminal: str, status: str) -> bytes:
    text_event = {"item_id": "msg_67c9", "output_index": 0, "content_index": 0}
    return sse(
        {
            "type": "response.created",
            "sequence_number": 0,
            "response": {**RESPONSE_BASE, "status": "in_progress"},
        },
        {
            "type": "response.in_progress",
            "sequence_number": 1,
            "response": {**RESPONSE_BASE, "status": "in_progress"},
        },
        {
            "type": "response.output_item.added",
            "sequence_number": 2,
            "output_index": 0,
            "item": {
                "id": "msg_67c9",
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        },
        {"type": "response.output_text.delta", "sequence_number": 3, **text_event, "delta": "Hi"},
        {
            "type": "response.output_text.delta",
            "sequence_number": 4,
            **text_event,
            "delta": " there!",
        },
        {
            "type": "response.output_text.done",
            "sequence_number": 5,
            **text_event,
            "text": "Hi there!",
        },
        {
            "type": terminal,
            "sequence_number": 6,
            "response": {**RESPONSE_BASE, "status": status, "usage": RESPONSE_USAGE},
        },
        named=True,
    )


@pytest.mark.parametrize(
    ("terminal", "status"),
    [
        ("response.completed", "completed"),
        ("response.incomplete", "incomplete"),
        ("response.failed", "failed"),
    ],
)
def test_responses_terminal_events(terminal: str, status: str) -> None:
    stream = run(OpenAIResponsesStream(), responses_transcript(terminal, status), 9)
    assert stream.usage == TokenCounts(input_tokens=37, output_tokens=11)
    assert stream.status == status
    assert stream.finished is True
    assert stream.model == "gpt-5-2025-08-07"
    assert stream.response_id == RESPONSE_BASE["id"]
    assert stream.text == "Hi there!"


def test_responses_cut_before_the_terminal_event() -> None:
    raw = responses_transcript("response.completed", "completed")
    stream = run(OpenAIResponsesStream(), raw[: raw.index(b"event: response.completed")])
    assert stream.usage is None and not stream.finished
    assert stream.text == "Hi there!"
    assert stream.status == "in_progress"


# --- Gemini ---------------------------------------------------------------------------------


def gemini_chunk(
    text: str, usage: dict[str, Any] | None, finish: str | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = finish
    chunk: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "mIbHaLWZFdOUxN8Pr9vW0Qs",
    }
    if usage is not None:
        chunk["usageMetadata"] = usage
    return chunk


def test_gemini_keeps_the_last_non_empty_usage() -> None:
    raw = sse(
        gemini_chunk("The", {"promptTokenCount": 8, "totalTokenCount": 8}),
        gemini_chunk(
            " sky is",
            {
                "promptTokenCount": 8,
                "candidatesTokenCount": 3,
                "thoughtsTokenCount": 28,
                "totalTokenCount": 39,
            },
        ),
        gemini_chunk(
            " blue.",
            {
                "promptTokenCount": 8,
                "candidatesTokenCount": 5,
                "thoughtsTokenCount": 28,
                "totalTokenCount": 41,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],
            },
            "STOP",
        ),
        gemini_chunk("", {}),
        eol="\r\n",
    )
    stream = run(GeminiStream(), raw, 4)
    assert stream.usage == TokenCounts(input_tokens=8, output_tokens=33, reasoning_tokens=28)
    assert stream.model == "gemini-2.5-flash"
    assert stream.response_id == "mIbHaLWZFdOUxN8Pr9vW0Qs"
    assert stream.text == "The sky is blue."
    assert (stream.finished, stream.finish_reason) == (True, "STOP")


def test_gemini_function_call_arguments_count_as_text(form: Form) -> None:
    stream = GeminiStream()
    stream.feed(
        form(
            {
                "candidates": [
                    {
                        "content": {
                            "parts": [
                                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
                            ]
                        }
                    }
                ]
            }
        )
    )
    assert stream.text == 'get_weather{"city": "Paris"}'
    assert stream.usage is None


# --- common behaviour -----------------------------------------------------------------------


def test_text_is_bounded_and_the_estimate_scales() -> None:
    stream = OpenAIChatStream(max_text_chars=100)
    for _ in range(50):
        stream.feed(chat_chunk({"content": "hello world "}))
    assert len(stream.text) == 100
    assert stream.text_chars == 600
    small = OpenAIChatStream()
    small.feed(chat_chunk({"content": "hello world " * 50}))
    full = small.estimate_output_tokens()
    assert abs(stream.estimate_output_tokens() - full) <= full * 0.1


@pytest.mark.parametrize(
    "payload",
    [
        None,
        0,
        "data",
        [],
        {},
        {"choices": "x"},
        {"choices": [None, 1, "a"]},
        {"type": "message_delta", "usage": "lots"},
        {"response": []},
        {"candidates": [{"content": {"parts": [None, {"text": 5}]}}]},
    ],
)
@pytest.mark.parametrize(
    "cls", [OpenAIChatStream, OpenAIResponsesStream, AnthropicStream, GeminiStream]
)
def test_garbage_events_are_ignored(cls: type[StreamAccumulator], payload: object) -> None:
    stream = cls()  # type: ignore[call-arg]
    stream.feed(payload)
    stream.feed_bytes(b"data: {not json\n\n\x00\xff\n\ndata: [1,2]\n\n")
    stream.close()
    assert stream.usage is None
    assert stream.events == 2

"""Provider responses as they come over the wire, each with the token fields every metering
path must get from it (tests/usage/test_paths_agree.py), and the agent logs that carry it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

# input, cache read, 5-minute writes, 1-hour writes, output, reasoning
Tokens = tuple[int, int, int, int, int, int]


@dataclass(frozen=True)
class Case:
    name: str
    api: str  # "anthropic", "chat", "responses", "gemini"
    model: str
    body: dict[str, Any]  # the provider's whole JSON response
    expected: Tokens
    logs: tuple[str, ...] = ()  # agent-log parsers that carry this usage
    stream: bool = False  # the body is the last chunk of an SSE stream
    sdk: bool = True


def anthropic_message(message_id: str, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Hello there!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def chat_completion(response_id: str, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": 1760000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there!"},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def response_object(response_id: str, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1760000000,
        "status": "completed",
        "model": model,
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello there!", "annotations": []}],
            }
        ],
        "usage": usage,
    }


def gemini_response(response_id: str, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Hello there!"}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": response_id,
    }


SONNET = "claude-sonnet-4-5-20250929"
CASES = [
    Case(
        "anthropic, notes/provider-usage.md example",
        "anthropic",
        SONNET,
        anthropic_message(
            "msg_01spec",
            SONNET,
            {
                "input_tokens": 3,
                "output_tokens": 550,
                "cache_creation_input_tokens": 12304,
                "cache_read_input_tokens": 0,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 12304,
                    "ephemeral_1h_input_tokens": 0,
                },
                "server_tool_use": {"web_search_requests": 0},
                "service_tier": "standard",
            },
        ),
        (3, 0, 12304, 0, 550, 0),
        logs=("claude-code",),
    ),
    # Used to give 80 + 50 through usage/ and 50 + 50 through the Claude Code parser. The split
    # decides: notes/provider-usage.md maps "5m / 1h split (else cache_creation_input_tokens
    # as 5m)", and DESIGN.md's cache_write_tokens / cache_write_1h_tokens are the writes per
    # TTL, which only the split reports.
    Case(
        "anthropic, a cache-write total below its 5m/1h split",
        "anthropic",
        SONNET,
        anthropic_message(
            "msg_01split",
            SONNET,
            {
                "input_tokens": 3,
                "output_tokens": 7,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 0,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 80,
                    "ephemeral_1h_input_tokens": 50,
                },
                "service_tier": "standard",
            },
        ),
        (3, 0, 80, 50, 7, 0),
        logs=("claude-code",),
    ),
    Case(
        "anthropic, 1-hour writes, thinking, server tools, fast mode",
        "anthropic",
        "claude-opus-4-6",
        anthropic_message(
            "msg_01full",
            "claude-opus-4-6",
            {
                "input_tokens": 50,
                "output_tokens": 400,
                "output_tokens_details": {"thinking_tokens": 120},
                "cache_creation_input_tokens": 3000,
                "cache_read_input_tokens": 90000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 1000,
                    "ephemeral_1h_input_tokens": 2000,
                },
                "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
                "service_tier": "standard",
                "speed": "fast",
                "inference_geo": "us",
            },
        ),
        (50, 90000, 1000, 2000, 400, 120),
        logs=("claude-code",),
    ),
    Case(
        "anthropic, writes without a split",
        "anthropic",
        SONNET,
        anthropic_message(
            "msg_01nosplit",
            SONNET,
            {
                "input_tokens": 10,
                "output_tokens": 20,
                "cache_creation_input_tokens": 700,
                "cache_read_input_tokens": 300,
            },
        ),
        (10, 300, 700, 0, 20, 0),
        logs=("claude-code",),
    ),
    Case(
        "openai chat, cached and reasoning tokens",
        "chat",
        "gpt-5-mini",
        chat_completion(
            "chatcmpl-cached",
            "gpt-5-mini",
            {
                "prompt_tokens": 125,
                "completion_tokens": 48,
                "total_tokens": 173,
                "prompt_tokens_details": {"cached_tokens": 98, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 20,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
        ),
        (27, 98, 0, 0, 48, 20),
    ),
    Case(
        "openai chat, cache writes",
        "chat",
        "gpt-5-mini",
        chat_completion(
            "chatcmpl-writes",
            "gpt-5-mini",
            {
                "prompt_tokens": 1000,
                "completion_tokens": 50,
                "total_tokens": 1050,
                "prompt_tokens_details": {"cached_tokens": 200, "cache_write_tokens": 300},
            },
        ),
        (500, 200, 300, 0, 50, 0),
    ),
    Case(
        "openai responses, cached and reasoning tokens",
        "responses",
        "gpt-5",
        response_object(
            "resp_cached",
            "gpt-5",
            {
                "input_tokens": 125,
                "input_tokens_details": {"cached_tokens": 98},
                "output_tokens": 48,
                "output_tokens_details": {"reasoning_tokens": 20},
                "total_tokens": 173,
            },
        ),
        (27, 98, 0, 0, 48, 20),
        logs=("codex",),
    ),
    Case(
        "openai responses, cache writes",
        "responses",
        "gpt-5",
        response_object(
            "resp_writes",
            "gpt-5",
            {
                "input_tokens": 1000,
                "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 300},
                "output_tokens": 60,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 1060,
            },
        ),
        (600, 100, 300, 0, 60, 0),
    ),
    Case(
        "gemini, thoughts, cached content and tool-use prompt",
        "gemini",
        "gemini-2.5-pro",
        gemini_response(
            "gem-full",
            "gemini-2.5-pro",
            {
                "promptTokenCount": 1200,
                "candidatesTokenCount": 300,
                "cachedContentTokenCount": 1000,
                "thoughtsTokenCount": 700,
                "toolUsePromptTokenCount": 50,
                "totalTokenCount": 2250,
            },
        ),
        (250, 1000, 0, 0, 1000, 700),
        logs=("qwen-code", "gemini-cli"),
        sdk=False,
    ),
    Case(
        "gemini, prompt and candidates only",
        "gemini",
        "gemini-2.5-flash",
        gemini_response(
            "gem-plain",
            "gemini-2.5-flash",
            {"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 13},
        ),
        (8, 0, 0, 0, 5, 0),
        logs=("qwen-code", "gemini-cli"),
        sdk=False,
    ),
    # Qwen Code logs an OpenAI-compatible backend's usage in Gemini's names, reasoning inside
    # candidates; its total (prompt + completion) leaves the thoughts out, which Gemini's own
    # total never does: output is the candidates alone. It used to count the thoughts twice.
    Case(
        "qwen code over an OpenAI-compatible backend, thoughts inside candidates",
        "gemini",
        "qwen3-coder-plus",
        gemini_response(
            "qwen-openai",
            "qwen3-coder-plus",
            {
                "promptTokenCount": 1200,
                "candidatesTokenCount": 340,
                "thoughtsTokenCount": 40,
                "totalTokenCount": 1540,
                "cachedContentTokenCount": 200,
            },
        ),
        (1000, 200, 0, 0, 340, 40),
        logs=("qwen-code",),
        sdk=False,
    ),
    Case(
        "deepseek, cache hit/miss and details, reasoner",
        "chat",
        "deepseek-reasoner",
        chat_completion(
            "ds-1",
            "deepseek-reasoner",
            {
                "prompt_tokens": 1000,
                "completion_tokens": 200,
                "total_tokens": 1200,
                "prompt_tokens_details": {"cached_tokens": 600},
                "completion_tokens_details": {"reasoning_tokens": 150},
                "prompt_cache_hit_tokens": 600,
                "prompt_cache_miss_tokens": 400,
            },
        ),
        (400, 600, 0, 0, 200, 150),
    ),
    Case(
        "deepseek, hit/miss only",
        "chat",
        "deepseek-chat",
        chat_completion(
            "ds-2",
            "deepseek-chat",
            {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "total_tokens": 120,
                "prompt_cache_hit_tokens": 30,
                "prompt_cache_miss_tokens": 70,
            },
        ),
        (70, 30, 0, 0, 20, 0),
    ),
    Case(
        "dashscope qwen, implicit hits and explicit cache writes",
        "chat",
        "qwen-plus",
        chat_completion(
            "chatcmpl-qwen",
            "qwen-plus",
            {
                "prompt_tokens": 3019,
                "completion_tokens": 104,
                "total_tokens": 3123,
                "prompt_tokens_details": {
                    "cached_tokens": 2048,
                    "cache_creation_input_tokens": 500,
                    "cache_creation": {"ephemeral_5m_input_tokens": 500},
                    "cache_type": "ephemeral",
                },
            },
        ),
        (471, 2048, 500, 0, 104, 0),
    ),
    Case(
        "moonshot kimi, legacy top-level cached_tokens",
        "chat",
        "moonshot-v1-8k",
        chat_completion(
            "cmpl-kimi",
            "moonshot-v1-8k",
            {"prompt_tokens": 10, "completion_tokens": 79, "total_tokens": 89, "cached_tokens": 4},
        ),
        (6, 4, 0, 0, 79, 0),
    ),
    Case(
        "moonshot kimi stream, usage inside the final choice",
        "chat",
        "kimi-k2-0905-preview",
        {
            "id": "cmpl-kimi-stream",
            "object": "chat.completion.chunk",
            "created": 1760000000,
            "model": "kimi-k2-0905-preview",
            "choices": [
                {
                    "index": 0,
                    "delta": {},
                    "finish_reason": "stop",
                    "usage": {"prompt_tokens": 10, "completion_tokens": 79, "total_tokens": 89},
                }
            ],
        },
        (10, 0, 0, 0, 79, 0),
        stream=True,
    ),
]
IDS = [case.name for case in CASES]


def usage_node(case: Case) -> dict[str, Any]:
    node = case.body["usageMetadata"] if case.api == "gemini" else case.body["usage"]
    assert isinstance(node, dict)
    return node


def sse_body(case: Case) -> bytes:
    """The stream a provider sends: a content chunk, the case's chunk, ``[DONE]``."""
    first = {
        **case.body,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello there!"}}],
    }
    events = [json.dumps(first), json.dumps(case.body), "[DONE]"]
    return b"".join(f"data: {event}\n\n".encode() for event in events)


def wire_body(case: Case, response_id: str | None = None) -> tuple[bytes, bytes]:
    """The payload as the provider sends it (body, content type); ``response_id`` replaces the
    response's id (capture paths share one id per response: each path gets its own)."""
    body = dict(case.body)
    if response_id is not None:
        body["responseId" if case.api == "gemini" else "id"] = response_id
    if case.stream:
        return sse_body(replace(case, body=body)), b"text/event-stream"
    return json.dumps(body).encode(), b"application/json"

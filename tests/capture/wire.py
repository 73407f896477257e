"""Provider wire formats, as the APIs send them (JSON bodies and SSE frames), for the fake
upstream. Shapes follow the provider notes; every builder takes the usage to report so tests can
assert the ledger holds exactly that."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

Frame = tuple[str | None, str]  # (SSE event name, data)

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


def frame(data: Mapping[str, Any] | str, event: str | None = None) -> Frame:
    return (event, data if isinstance(data, str) else json.dumps(data))


# -- OpenAI Chat Completions (and compatible vendors) ---------------------------------------------

OPENAI_CHAT_USAGE = {
    "prompt_tokens": 125,
    "completion_tokens": 48,
    "total_tokens": 173,
    "prompt_tokens_details": {"cached_tokens": 98, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 16,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}

DEEPSEEK_USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 200,
    "total_tokens": 1200,
    "prompt_tokens_details": {"cached_tokens": 640},
    "prompt_cache_hit_tokens": 640,
    "prompt_cache_miss_tokens": 360,
}

KIMI_USAGE = {"prompt_tokens": 10, "completion_tokens": 79, "total_tokens": 89}


def chat_completion(model: str, content: str, usage: Mapping[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": next_id("chatcmpl-"),
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "service_tier": "default",
        "system_fingerprint": "fp_test",
    }
    if usage is not None:
        body["usage"] = dict(usage)
    return body


def chat_chunks(
    model: str,
    pieces: Sequence[str],
    usage: Mapping[str, Any] | None,
    *,
    include_usage: bool,
    usage_in_choice: bool = False,
) -> list[Frame]:
    """A Chat Completions stream. With ``include_usage`` every chunk has ``usage: null`` and a
    last chunk with ``choices: []`` carries the usage; ``usage_in_choice`` is Kimi's way (the
    usage inside the final choice, no extra chunk)."""
    cid = next_id("chatcmpl-")
    base = {"id": cid, "object": "chat.completion.chunk", "created": 1_760_000_000, "model": model}
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    frames = [
        frame(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": None,
                    }
                ],
                **extra,
            }
        )
    ]
    for piece in pieces:
        delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
        frames.append(frame({**base, "choices": [delta], **extra}))
    last: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": "stop"}
    if usage_in_choice and usage is not None:
        last["usage"] = dict(usage)
    frames.append(frame({**base, "choices": [last], **extra}))
    if include_usage and usage is not None and not usage_in_choice:
        frames.append(frame({**base, "choices": [], "usage": dict(usage)}))
    frames.append(frame("[DONE]"))
    return frames


def completion_legacy(model: str, text: str, usage: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": next_id("cmpl-"),
        "object": "text_completion",
        "created": 1_760_000_000,
        "model": model,
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
        "usage": dict(usage),
    }


# -- OpenAI Responses API ---------------------------------------------------------------

RESPONSES_USAGE = {
    "input_tokens": 125,
    "input_tokens_details": {"cached_tokens": 98},
    "output_tokens": 48,
    "output_tokens_details": {"reasoning_tokens": 20},
    "total_tokens": 173,
}


def _response_object(
    rid: str, model: str, status: str, text: str | None, usage: Mapping[str, Any] | None
) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if text is not None:
        output.append(
            {
                "id": "msg_" + rid,
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    return {
        "id": rid,
        "object": "response",
        "created_at": 1_760_000_000,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": dict(usage) if usage is not None else None,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
    }


def response_json(model: str, text: str, usage: Mapping[str, Any]) -> dict[str, Any]:
    return _response_object(next_id("resp_"), model, "completed", text, usage)


def response_events(
    model: str, pieces: Sequence[str], usage: Mapping[str, Any], *, terminal: str = "completed"
) -> list[Frame]:
    """A Responses stream ending with ``response.<terminal>`` (completed / incomplete / failed),
    whose ``response.usage`` is the usage of the call."""
    rid = next_id("resp_")
    text = "".join(pieces)
    seq = itertools.count()
    item_id = "msg_" + rid

    def ev(kind: str, **fields: Any) -> Frame:
        return frame({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

    created = _response_object(rid, model, "in_progress", None, None)
    frames = [
        ev("response.created", response=created),
        ev("response.in_progress", response=created),
        ev(
            "response.output_item.added",
            output_index=0,
            item={
                "id": item_id,
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        ),
        ev(
            "response.content_part.added",
            item_id=item_id,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": []},
        ),
    ]
    for piece in pieces:
        frames.append(
            ev(
                "response.output_text.delta",
                item_id=item_id,
                output_index=0,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        )
    frames += [
        ev(
            "response.output_text.done",
            item_id=item_id,
            output_index=0,
            content_index=0,
            text=text,
            logprobs=[],
        ),
        ev(
            "response.content_part.done",
            item_id=item_id,
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": text, "annotations": []},
        ),
        ev(
            "response.output_item.done",
            output_index=0,
            item={
                "id": item_id,
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            },
        ),
    ]
    final = _response_object(rid, model, terminal, text, usage)
    if terminal == "failed":
        final["error"] = {"code": "server_error", "message": "the model failed"}
    frames.append(ev(f"response.{terminal}", response=final))
    return frames


# -- OpenAI embeddings ------------------------------------------------------------------


def embeddings_json(model: str, count: int, tokens: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": [0.1, -0.2, 0.3]} for i in range(count)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


# -- Anthropic Messages ------------------------------------------------------------------

ANTHROPIC_USAGE = {
    "input_tokens": 3,
    "output_tokens": 550,
    "cache_creation_input_tokens": 12304,
    "cache_read_input_tokens": 2048,
    "cache_creation": {"ephemeral_5m_input_tokens": 12000, "ephemeral_1h_input_tokens": 304},
    "server_tool_use": {"web_search_requests": 0},
    "service_tier": "standard",
}


def anthropic_message(model: str, text: str, usage: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": next_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": dict(usage),
    }


def anthropic_events(model: str, pieces: Sequence[str], usage: Mapping[str, Any]) -> list[Frame]:
    """An Anthropic Messages stream: ``message_start`` carries the input side and output 1;
    ``message_delta`` carries CUMULATIVE usage (the input side repeated, the final output)."""
    mid = next_id("msg_")
    start_usage = {**usage, "output_tokens": 1}
    frames = [
        frame(
            {
                "type": "message_start",
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
            event="message_start",
        ),
        frame(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            event="content_block_start",
        ),
        frame({"type": "ping"}, event="ping"),
    ]
    for piece in pieces:
        frames.append(
            frame(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
                event="content_block_delta",
            )
        )
    delta_usage = {k: v for k, v in usage.items() if k not in ("service_tier", "cache_creation")}
    frames += [
        frame({"type": "content_block_stop", "index": 0}, event="content_block_stop"),
        frame(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": delta_usage,
            },
            event="message_delta",
        ),
        frame({"type": "message_stop"}, event="message_stop"),
    ]
    return frames


def error_json(message: str, kind: str = "server_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": None, "param": None}}


def compaction_json(model: str, usage: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /responses/compact``: the compacted conversation, with the usage of the pass."""
    return {
        "id": next_id("cmp_"),
        "object": "response.compaction",
        "created_at": 1_760_000_000,
        "model": model,
        "output": [
            {
                "id": next_id("cmpitem_"),
                "type": "compaction",
                "encrypted_content": "gAAAA",
            }
        ],
        "usage": dict(usage),
    }

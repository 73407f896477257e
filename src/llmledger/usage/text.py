"""Output text of whole (non-streamed) responses, for an offline estimate when a provider
returned no usage. Pure and tolerant like the normalizers: dicts or SDK objects, never raises."""

from __future__ import annotations

import json

from llmledger.usage._access import as_dict, as_text, first_of, get, is_node, items, path
from llmledger.usage.normalize import UsageShape

__all__ = ["response_text"]


def _json(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(as_dict(value) if is_node(value) else value, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""


def _chat(payload: object) -> list[str]:
    parts: list[str] = []
    for choice in items(get(payload, "choices")):
        message = get(choice, "message")
        for key in ("content", "reasoning_content", "reasoning", "refusal"):
            parts.append(as_text(get(message, key)) or "")
        parts.append(as_text(get(choice, "text")) or "")  # legacy completions
        for call in items(get(message, "tool_calls")):
            parts.append(as_text(path(call, "function", "name")) or "")
            parts.append(as_text(path(call, "function", "arguments")) or "")
    return parts


def _responses(payload: object) -> list[str]:
    parts: list[str] = []
    for out in items(get(payload, "output")):
        for content in items(get(out, "content")):
            parts.append(as_text(get(content, "text")) or as_text(get(content, "refusal")) or "")
        for summary in items(get(out, "summary")):
            parts.append(as_text(get(summary, "text")) or "")
        parts.append(as_text(get(out, "arguments")) or "")
        parts.append(as_text(get(out, "input")) or "")
    return parts


def _anthropic(payload: object) -> list[str]:
    parts: list[str] = []
    for block in items(get(payload, "content")):
        for key in ("text", "thinking"):
            parts.append(as_text(get(block, key)) or "")
        tool_input = get(block, "input")
        if tool_input is not None:
            parts.append(_json(tool_input))
    return parts


def _gemini(payload: object) -> list[str]:
    parts: list[str] = []
    for candidate in items(get(payload, "candidates")):
        for part in items(path(candidate, "content", "parts")):
            parts.append(as_text(get(part, "text")) or "")
            call = first_of(part, "functionCall", "function_call")
            if is_node(call):
                parts.append(as_text(get(call, "name")) or "")
                parts.append(_json(get(call, "args")))
    return parts


_READERS = {
    "openai_chat": _chat,
    "openai_responses": _responses,
    "anthropic": _anthropic,
    "gemini": _gemini,
}


def response_text(shape: UsageShape, payload: object) -> str:
    """All output text of a response (content, reasoning, tool calls), joined; "" if none."""
    try:
        return "".join(_READERS[shape](payload))
    except RecursionError:
        return ""

"""The request side of an instrumented call (pure): which API it is, what model it asked for,
whether to ask for stream usage, and an offline estimate of its input for when no usage comes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from llmledger.estimate import estimate_messages_tokens, estimate_tokens
from llmledger.usage.normalize import UsageShape

__all__ = [
    "API_PATHS",
    "Api",
    "CallSpec",
    "api_of",
    "estimate_input_tokens",
    "is_usage_option_rejection",
    "needs_usage_option",
    "shape_of",
    "with_usage_option",
]

Api = Literal["chat", "completions", "responses", "embeddings", "messages", "generate_content"]

# The SDK request path of each metered API (the path handed to the resource's ``_post``).
API_PATHS: dict[str, Api] = {
    "/chat/completions": "chat",
    "/completions": "completions",
    "/responses": "responses",
    "/embeddings": "embeddings",
    "/v1/messages": "messages",
}

_SHAPES: dict[Api, UsageShape] = {
    "chat": "openai_chat",
    "completions": "openai_chat",
    "responses": "openai_responses",
    "embeddings": "openai_chat",
    "messages": "anthropic",
    "generate_content": "gemini",
}

# APIs whose streams carry usage only when asked with ``stream_options.include_usage``.
_USAGE_OPTION_APIS = frozenset({"chat", "completions"})


def shape_of(api: Api) -> UsageShape:
    return _SHAPES[api]


_APIS: dict[UsageShape, Api] = {
    "openai_chat": "chat",
    "openai_responses": "responses",
    "anthropic": "messages",
    "gemini": "generate_content",
}


def api_of(shape: UsageShape) -> Api:
    """The API a payload of ``shape`` most likely answered (for reading its request)."""
    return _APIS[shape]


@dataclass(slots=True)
class CallSpec:
    """What was asked: the API, the provider behind the client, the requested model, the
    request body (kept for an input estimate), and whether the response streams."""

    api: Api
    provider: str | None
    model: str | None
    body: Mapping[str, object]
    stream: bool
    injected_usage_option: bool = False


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def make_spec(api: Api, provider: str | None, body: object, stream: bool) -> CallSpec:
    mapping: Mapping[str, object] = body if isinstance(body, Mapping) else {}
    return CallSpec(api, provider, _text(mapping.get("model")), mapping, stream)


def needs_usage_option(api: Api, body: Mapping[str, object], extra_body: object = None) -> bool:
    """A Chat/legacy Completions stream whose caller did not set ``include_usage`` (either way)
    in ``stream_options`` (in the body or the SDK's ``extra_body``)."""
    if api not in _USAGE_OPTION_APIS or body.get("stream") is not True:
        return False
    for source in (body, extra_body):
        if isinstance(source, Mapping):
            options = source.get("stream_options")
            if isinstance(options, Mapping) and "include_usage" in options:
                return False
    return True


def with_usage_option(body: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``body`` asking for the usage chunk (other stream options kept)."""
    options = body.get("stream_options")
    merged = dict(options) if isinstance(options, Mapping) else {}
    merged["include_usage"] = True
    return {**body, "stream_options": merged}


def is_usage_option_rejection(exc: BaseException) -> bool:
    """A provider that refuses ``stream_options``: a 400/422 whose message names it."""
    if getattr(exc, "status_code", None) not in (400, 422):
        return False
    text = f"{exc} {getattr(exc, 'body', '')}".lower()
    return "stream_options" in text or "include_usage" in text


def _given(value: object) -> object:
    """A JSON value the caller set; None for unset parameters (the SDKs' ``omit`` sentinels)."""
    if isinstance(value, (str, int, float, Mapping, list, tuple)) and not isinstance(value, bool):
        return value
    return None


def _json_tokens(value: object, model: str | None) -> int:
    value = _given(value)
    if not value:
        return 0
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return 0
    return estimate_tokens(text, model)


def _input_tokens(value: object, model: str | None) -> int:
    """A prompt / input / system: a string, a list of strings, token ids, or message-like
    items (content parts and blocks count their ``text``)."""
    value = _given(value)
    if isinstance(value, str):
        return estimate_tokens(value, model)
    if not isinstance(value, (list, tuple)):
        return 0
    if value and all(isinstance(v, int) for v in value):
        return len(value)  # already token ids
    total = 0
    messages = [v for v in value if isinstance(v, Mapping) and "content" in v]
    if messages:
        total += estimate_messages_tokens(messages, model)
    for v in value:
        if isinstance(v, Mapping) and "content" not in v:
            text = v.get("text")
            total += estimate_tokens(text, model) if isinstance(text, str) else 0
        elif not isinstance(v, Mapping):
            total += _input_tokens(v, model)
    return total


def _gemini_tokens(value: object, model: str | None) -> int:
    """Gemini ``contents`` (or one Content): the text of every part."""
    value = _given(value)
    contents = [value] if isinstance(value, Mapping) else value
    if not isinstance(contents, (list, tuple)):
        return 0
    total = 0
    for content in contents:
        parts = content.get("parts") if isinstance(content, Mapping) else None
        for part in parts if isinstance(parts, (list, tuple)) else ():
            text = part.get("text") if isinstance(part, Mapping) else None
            total += estimate_tokens(text, model) if isinstance(text, str) else 0
    return total


def estimate_input_tokens(spec: CallSpec) -> int:
    """Offline estimate of the tokens the request sent (messages, system, tools); 0 if the
    body cannot be read. Used only when the provider reported no usage."""
    body, model = spec.body, spec.model
    try:
        if spec.api == "completions":
            return _input_tokens(body.get("prompt"), model)
        if spec.api == "embeddings":
            return _input_tokens(body.get("input"), model)
        if spec.api == "generate_content":
            return _gemini_tokens(body.get("contents"), model) + _gemini_tokens(
                body.get("systemInstruction") or body.get("system_instruction"), model
            )
        if spec.api == "responses":
            prompt = _input_tokens(body.get("input"), model)
            prompt += _input_tokens(body.get("instructions"), model)
        else:  # chat, messages
            prompt = _input_tokens(body.get("messages"), model)
            prompt += _input_tokens(body.get("system"), model)
        return prompt + _json_tokens(body.get("tools"), model)
    except Exception:  # an estimate must never break recording
        return 0

"""The request side of a metered call (pure): which API a request is, what model it asked for,
whether it streams, and whether to ask for the stream's usage.

Capture meters HTTP requests, whoever makes them (an SDK, an app's own ``httpx`` or
``aiohttp`` calls): a POST whose URL path ends like one of the APIs below is metered, its query
ignored (anthropic's ``beta.messages`` post to ``/v1/messages?beta=true``), anything else
passes untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import msgspec

from llmledger.usage.normalize import UsageShape

__all__ = [
    "Api",
    "CallSpec",
    "api_for",
    "api_of",
    "is_usage_option_rejection",
    "make_spec",
    "needs_usage_option",
    "shape_of",
    "with_usage_option",
]

Api = Literal["chat", "completions", "responses", "embeddings", "messages", "generate_content"]

# How the path of each metered API ends, more specific endings first. ``/responses/compact``
# reports usage like a response; other ``/responses/...`` paths (retrieve, cancel,
# input_tokens) do not bill and are not metered.
_PATH_ENDINGS: tuple[tuple[str, Api], ...] = (
    ("/chat/completions", "chat"),
    ("/completions", "completions"),
    ("/responses", "responses"),
    ("/responses/compact", "responses"),
    ("/embeddings", "embeddings"),
    ("/v1/messages", "messages"),
    (":generateContent", "generate_content"),
    (":streamGenerateContent", "generate_content"),
)

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


def api_for(method: str, path: str) -> Api | None:
    """The metered API a request is (its URL path, without the query), or None."""
    if method.upper() != "POST":
        return None
    path = path.rstrip("/")
    for ending, api in _PATH_ENDINGS:
        if path.endswith(ending):
            return api
    return None


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
    """What was asked: the API, the provider behind the URL, the requested model, the request
    body (kept for an input estimate), and whether the response streams."""

    api: Api
    provider: str | None
    model: str | None
    body: Mapping[str, object]
    stream: bool
    injected_usage_option: bool = False


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def make_spec(api: Api, provider: str | None, body: object, path: str = "") -> CallSpec:
    """The spec of a request to ``api`` with JSON ``body`` (anything else reads as empty)
    posted to ``path`` (Gemini names the model and streaming in the path)."""
    mapping: Mapping[str, object] = body if isinstance(body, Mapping) else {}
    model = _text(mapping.get("model"))
    stream = mapping.get("stream") is True
    if api == "generate_content":
        name = path.rpartition("/models/")[2].partition(":")
        model = model or _text(name[0])
        stream = name[2].startswith("streamGenerateContent")
    return CallSpec(api, provider, model, mapping, stream)


def needs_usage_option(spec: CallSpec) -> bool:
    """A Chat/legacy Completions stream whose caller did not set ``include_usage`` (either
    way) in ``stream_options``."""
    if spec.api not in _USAGE_OPTION_APIS or not spec.stream:
        return False
    options = spec.body.get("stream_options")
    return not (isinstance(options, Mapping) and "include_usage" in options)


def with_usage_option(raw: bytes, body: Mapping[str, object]) -> bytes:
    """The request body ``raw`` (parsed: ``body``) asking for the usage chunk, other stream
    options kept. Spliced in after the opening brace when the body has no ``stream_options``
    (the caller's bytes otherwise unchanged), else re-encoded."""
    options = body.get("stream_options")
    if options is None:
        stripped = raw.lstrip()
        if stripped[:1] == b"{" and stripped[1:].lstrip()[:1] not in (b"}", b""):
            return b'{"stream_options":{"include_usage":true},' + stripped[1:]
    merged = dict(options) if isinstance(options, Mapping) else {}
    merged["include_usage"] = True
    return msgspec.json.encode({**body, "stream_options": merged})


def is_usage_option_rejection(status: int, body: bytes) -> bool:
    """A provider that refuses ``stream_options``: a 400/422 whose body names it."""
    if status not in (400, 422):
        return False
    text = body.lower()
    return b"stream_options" in text or b"include_usage" in text

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
from typing import Any, Literal

import msgspec

from llmledger.usage.normalize import UsageShape
from llmledger.usage.sse import decode_json, splice_usage_option

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
    """What was asked: the API, the provider behind the URL, the requested model, whether the
    response streams, the stream options the caller set, and the request body (its bytes, or
    already parsed), read whole only for an input estimate (off the app's path)."""

    api: Api
    provider: str | None
    model: str | None
    stream: bool
    stream_options: object = None
    raw_body: bytes = b""
    parsed_body: Mapping[str, object] | None = None
    injected_usage_option: bool = False

    @property
    def body(self) -> Mapping[str, object]:
        """The request body as JSON (empty when it is not a JSON object)."""
        if self.parsed_body is None:
            parsed = decode_json(self.raw_body) if self.raw_body else None
            self.parsed_body = parsed if isinstance(parsed, Mapping) else {}
        return self.parsed_body


class _RequestHead(msgspec.Struct):
    """The fields of a request body read as it is sent (the rest, a long prompt, is skipped)."""

    model: Any = None
    stream: Any = None
    stream_options: Any = None


_head_decoder = msgspec.json.Decoder(_RequestHead)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def make_spec(api: Api, provider: str | None, raw_body: bytes, path: str = "") -> CallSpec:
    """The spec of a request to ``api`` with body ``raw_body`` (JSON; anything else reads as
    empty) posted to ``path`` (Gemini names the model and streaming in the path)."""
    try:
        head = _head_decoder.decode(raw_body) if raw_body else _RequestHead()
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        head = _RequestHead()
    model = _text(head.model)
    stream = head.stream is True
    if api == "generate_content":
        name = path.rpartition("/models/")[2].partition(":")
        model = model or _text(name[0])
        stream = name[2].startswith("streamGenerateContent")
    return CallSpec(api, provider, model, stream, head.stream_options, raw_body)


def needs_usage_option(spec: CallSpec) -> bool:
    """A Chat/legacy Completions stream whose caller did not set ``include_usage`` (either
    way) in ``stream_options``."""
    if spec.api not in _USAGE_OPTION_APIS or not spec.stream:
        return False
    options = spec.stream_options
    return not (isinstance(options, Mapping) and "include_usage" in options)


def with_usage_option(spec: CallSpec) -> bytes:
    """The request body asking for the usage chunk, other stream options kept. Spliced in
    after the opening brace when the body has no ``stream_options`` (the caller's bytes
    otherwise unchanged), else re-encoded."""
    options = spec.stream_options
    if options is None:
        spliced = splice_usage_option(spec.raw_body)
        if spliced is not None:
            return spliced
    merged = dict(options) if isinstance(options, Mapping) else {}
    merged["include_usage"] = True
    return msgspec.json.encode({**spec.body, "stream_options": merged})


def is_usage_option_rejection(status: int, body: bytes) -> bool:
    """A provider that refuses ``stream_options``: a 400/422 whose body names it."""
    if status not in (400, 422):
        return False
    text = body.lower()
    return b"stream_options" in text or b"include_usage" in text

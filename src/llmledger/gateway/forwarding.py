"""What crosses the gateway: the request head and body going up, the response head coming down.

Pure functions. Client credentials, hop-by-hop headers and the gateway's own attribution
headers never reach an upstream; upstream cookies and framing headers never reach a client.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from llmledger.gateway.config import AccountConfig, UpstreamConfig
from llmledger.gateway.errors import GatewayError
from llmledger.usage.sse import splice_usage_option

__all__ = [
    "RequestHead",
    "client_asked_for_usage",
    "parse_head",
    "response_headers",
    "rewrite_body",
    "upstream_headers",
]

ANTHROPIC_VERSION = "2023-06-01"

_NOT_FORWARDED_UP = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "authorization",
        "x-api-key",
        "accept-encoding",
        "cookie",
        "x-session-id",
        "x-request-type",
        "openai-organization",
        "openai-project",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
    }
)
_NOT_FORWARDED_DOWN = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"content-type",
        b"set-cookie",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"upgrade",
        b"date",
        b"server",
    }
)


class RequestHead(msgspec.Struct):
    """The few request fields the gateway reads (the rest is skipped, not decoded)."""

    model: Any = None
    stream: Any = None
    stream_options: Any = None


_head_decoder = msgspec.json.Decoder(RequestHead)


def parse_head(body: bytes) -> RequestHead:
    """Read ``model``/``stream`` from a JSON request body; GatewayError(400) if it is bad."""
    if not body.strip():
        raise GatewayError(400, "the request body is empty: expected a JSON object", "invalid_body")
    try:
        head = _head_decoder.decode(body)
    except msgspec.ValidationError:
        raise GatewayError(400, "the request body must be a JSON object", "invalid_body") from None
    except msgspec.DecodeError as exc:
        raise GatewayError(
            400, f"the request body is not valid JSON: {exc}", "invalid_json"
        ) from None
    if not isinstance(head.model, str) or not head.model.strip():
        raise GatewayError(400, "'model' is required and must be a string", "missing_model")
    if head.stream is not None and not isinstance(head.stream, bool):
        raise GatewayError(400, "'stream' must be true or false", "invalid_stream")
    if head.stream_options is not None and not isinstance(head.stream_options, dict):
        raise GatewayError(400, "'stream_options' must be an object", "invalid_stream_options")
    return head


def client_asked_for_usage(head: RequestHead) -> bool:
    options = head.stream_options
    return isinstance(options, dict) and options.get("include_usage") is True


def rewrite_body(
    body: bytes, head: RequestHead, *, model: str | None, include_usage: bool
) -> bytes:
    """The body to send upstream: ``model`` renamed and/or ``stream_options.include_usage``
    set. Untouched bytes when neither is needed."""
    if model is None and not include_usage:
        return body
    if model is None and head.stream_options is None:
        spliced = splice_usage_option(body)  # the common case: no re-encoding
        if spliced is not None:
            return spliced
    data = msgspec.json.decode(body)
    assert isinstance(data, dict)
    if model is not None:
        data["model"] = model
    if include_usage:
        options = data.get("stream_options")
        data["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    return msgspec.json.encode(data)


def upstream_headers(
    client: dict[str, str], upstream: UpstreamConfig, account: AccountConfig
) -> list[tuple[str, str]]:
    """Client headers minus credentials and hop-by-hop ones, plus the account's key."""
    headers = [(k, v) for k, v in client.items() if k not in _NOT_FORWARDED_UP]
    headers.append(("accept-encoding", "identity"))
    if upstream.protocol == "anthropic":
        headers.append(("x-api-key", account.api_key))
        if "anthropic-version" not in client:
            headers.append(("anthropic-version", ANTHROPIC_VERSION))
    else:
        headers.append(("authorization", f"Bearer {account.api_key}"))
    if upstream.headers:
        overridden = set(upstream.headers)
        headers = [(k, v) for k, v in headers if k not in overridden]
        headers.extend(upstream.headers.items())
    if "content-type" not in client:
        headers.append(("content-type", "application/json"))
    return headers


def response_headers(upstream: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers a client may see, names in lower case."""
    out = []
    for name, value in upstream:
        lowered = name.lower()
        if lowered not in _NOT_FORWARDED_DOWN:
            out.append((lowered, value))
    return out

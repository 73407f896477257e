"""Small ASGI helpers for the gateway's raw endpoints: request headers, the request body
(bounded in size and time), JSON answers."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from llmledger.gateway.errors import GatewayError

__all__ = [
    "ASGIApp",
    "ClientGone",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "check_length",
    "decode_header",
    "read_body",
    "request_headers",
    "send_bytes",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected before its request was read: nothing to answer."""


def decode_header(value: bytes) -> str:
    """A header value as text: UTF-8 (what clients send today), else Latin-1 (RFC 9110's
    historical reading), so no value is ever refused or turned into mojibake."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (a repeated header: the last one)."""
    return {
        bytes(name).decode("latin-1").lower(): decode_header(value)
        for name, value in scope["headers"]
    }


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"the request body is larger than {limit} bytes (gateway.max_body_bytes)",
        "body_too_large",
    )


async def read_body(receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole request body. ``GatewayError`` 413 past ``limit`` bytes, 408 when it has not
    arrived within ``timeout`` seconds; ``ClientGone`` when the client left. Reading is what
    sends ``100 Continue`` to a client that waits for it."""
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(timeout):
                return await _read(receive, limit)
        return await asyncio.wait_for(_read(receive, limit), timeout)
    except (TimeoutError, asyncio.TimeoutError):
        raise GatewayError(
            408,
            f"the request body did not arrive within {timeout:g} s (gateway.request_timeout)",
            "request_timeout",
        ) from None


def check_length(headers: dict[str, str], limit: int) -> None:
    """Refuse a declared body larger than ``limit`` before reading (or inviting) it."""
    declared = headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
    content_type: bytes = b"application/json",
) -> None:
    """A whole response in two messages, with its length."""
    head = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})

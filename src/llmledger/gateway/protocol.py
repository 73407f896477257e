"""uvicorn's httptools protocol with the limits a public gateway needs (``llmledger serve``).

uvicorn and httptools do the HTTP; this adds, per connection:

* a connection cap: past ``max_connections`` open connections a new one gets a 503 JSON
  answer and is closed at once (its file descriptor freed), and the gateway says so in its
  log (at most once every ``_LOG_EVERY`` seconds);
* a deadline for the request head: a connection that sends no complete head within
  ``request_timeout`` (a fresh one, or one that began a request) gets 408 and is closed
  (checked by one sweep a second, not a timer per request);
* a bound on the head: past ``max_header_bytes`` 431, including a header that never ends;
* malformed HTTP answered with a JSON 400 that says what was wrong, not a text one.

Under another ASGI server these are that server's job; the app itself bounds bodies (413),
their arrival (408) and everything else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from llmledger.gateway.errors import error_body

__all__ = ["Limits", "protocol_class"]

log = logging.getLogger("llmledger.gateway")
_LOG_EVERY = 10.0
_SWEEP_EVERY = 1.0


@dataclass(frozen=True)
class Limits:
    max_connections: int
    max_header_bytes: int
    request_timeout: float


class _Refusals:
    """Connections refused at the cap, and when it was last said; the head-deadline sweep."""

    count = 0
    logged_at = -1e18
    sweeping = False


class GatewayHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[Limits]
    refusals: ClassVar[type[_Refusals]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # raw bytes of an unfinished head
        self._head_started = 0.0  # loop time the head began (0: not waiting for one)
        self._refused = False

    # -- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.transport = transport
            self._refused = True
            self._refuse_for_capacity()
            return
        super().connection_made(transport)
        self._head_started = self.loop.time()
        if not self.refusals.sweeping:
            self.refusals.sweeping = True
            self.loop.call_later(_SWEEP_EVERY, self._sweep)

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_started = 0.0
        if self._refused:
            return
        super().connection_lost(exc)

    def _sweep(self) -> None:
        """Once a second: every connection whose head is late gets its 408."""
        late = self.loop.time() - self.limits.request_timeout
        for conn in list(self.connections):
            if isinstance(conn, GatewayHttpProtocol) and 0 < conn._head_started < late:
                conn._head_late()
        self.loop.call_later(_SWEEP_EVERY, self._sweep)

    def _refuse_for_capacity(self) -> None:
        refusals = self.refusals
        refusals.count += 1
        now = time.monotonic()
        if now - refusals.logged_at >= _LOG_EVERY:
            refusals.logged_at = now
            log.warning(
                "gateway: connection cap reached (%d open; %d refused so far): new connections "
                "get 503 until some close; raise gateway.max_connections or the open-file "
                "limit (ulimit -n) if this is expected load",
                len(self.connections),
                refusals.count,
            )
        self._answer(503, "too_many_connections", "the gateway has too many open connections")

    # -- the request head ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._answer(400, "bad_request", "protocol upgrades are not supported")
            return
        except httptools.HttpParserError as exc:
            rejection = getattr(exc, "__context__", None)
            if isinstance(rejection, _Rejection):
                self._answer(*rejection.args)
            else:
                self._answer(400, "bad_request", f"malformed HTTP request: {exc}")
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._answer(431, "header_too_large", self._too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if not self._head_started:
            self._head_started = self.loop.time()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_started = 0.0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            raise _Rejection(431, "header_too_large", self._too_large())
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next bytes begin the next request's head
        self._head_bytes = 0

    def _too_large(self) -> str:
        return f"the request head is larger than {self.limits.max_header_bytes} bytes"

    def _head_late(self) -> None:
        self._head_started = 0.0
        if self._in_head and self.transport is not None and not self.transport.is_closing():
            seconds = f"{self.limits.request_timeout:g}"
            self._answer(408, "request_timeout", f"the request did not arrive within {seconds} s")

    # -- answers ---------------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        self._answer(400, "bad_request", msg)

    def _answer(self, status: int, code: str, message: str) -> None:
        """A JSON error on a connection no request of which is being answered, then close."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started:
            body = error_body(message, code, status)
            head = (
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                "content-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            transport.write(head.encode("latin-1") + body)
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        transport.close()


class _Rejection(Exception):
    """Raised inside a parser callback to turn the request away: (status, code, message)."""


def protocol_class(limits: Limits) -> type[GatewayHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``limits``."""
    refusals = type("Refusals", (_Refusals,), {})
    return type(
        "GatewayHttpProtocol", (GatewayHttpProtocol,), {"limits": limits, "refusals": refusals}
    )

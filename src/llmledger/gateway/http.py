"""A lean HTTP/1.1 server connection on asyncio, parsed by ``httptools`` (llhttp).

One ``HTTPConnection`` per client socket. Requests (keep-alive, pipelined, chunked bodies,
``Expect: 100-continue``) are parsed into ``Request`` objects and handed to the app one at a
time; the app answers through the connection: ``respond`` for a whole response, or
``start`` / ``send`` / ``finish`` for a chunked stream (with ``drain`` for back-pressure).

Hostile input never reaches the app: malformed requests get 400, oversized headers 431,
oversized bodies 413, requests that do not arrive within ``request_timeout`` 408 — each a JSON
error — and the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import cast

import httptools

from llmledger.gateway.errors import error_body

__all__ = ["STATUS_REASONS", "HTTPConnection", "Limits", "Request"]

log = logging.getLogger("llmledger.gateway")

STATUS_REASONS: dict[int, str] = {
    100: "Continue",
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    499: "Client Closed Request",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}

_MAX_PIPELINED = 16
_date_cache: tuple[int, bytes] = (0, b"")


def _date_header() -> bytes:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n")
    return _date_cache[1]


def status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, STATUS_REASONS.get(status, "Status").encode())


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 64 * 1024
    max_body_bytes: int = 32 * 1024 * 1024
    request_timeout: float = 60.0
    idle_timeout: float = 75.0


class Request:
    """One parsed request. Header names are lower-case; repeated headers are joined by ", "."""

    __slots__ = ("body", "headers", "keep_alive", "method", "path", "query", "received_at")

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        keep_alive: bool,
        received_at: float,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.received_at = received_at  # time.perf_counter() when the head arrived


class _Reject(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


Handler = Callable[["HTTPConnection", Request], Awaitable[None]]


class HTTPConnection(asyncio.Protocol):
    """Server side of one client connection."""

    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        registry: set[HTTPConnection],
        server_header: bytes = b"server: llmledger\r\n",
    ) -> None:
        self._handler = handler
        self._limits = limits
        self._registry = registry
        self._server_header = server_header
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[Request] = deque()
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self._paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closed_waiter: asyncio.Future[None] | None = None
        # state of the request being parsed
        self._url = b""
        self._headers: dict[str, str] = {}
        self._head_bytes = 0  # URL and headers of the request being parsed, as parsed
        self._head_raw = 0  # bytes received while its head is incomplete
        self._in_head = False
        self._receiving = False
        self._body: list[bytes] = []
        self._body_size = 0
        self._started = 0.0
        # state of the response being written
        self._keep_alive = True
        self._head: bytes | None = None  # a streamed response's head, sent with the first chunk
        self.responding = False
        self.deadline = 0.0  # loop.time() after which the sweeper closes us (0: none)

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._registry.add(self)
        self.deadline = self._loop.time() + self._limits.idle_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._registry.discard(self)
        for waiter in (self._drain_waiter, self._closed_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool:
        return False  # a half-closed client is gone: close

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, "protocol upgrades are not supported", "upgrade_not_supported")
        except httptools.HttpParserError as exc:
            reason = exc.__context__
            if isinstance(reason, _Reject):
                self._reject(reason.status, str(reason), reason.code)
            else:
                message = str(exc.args[0] if exc.args else exc).strip() or "malformed request"
                self._reject(400, f"malformed HTTP request: {message}", "bad_request")
            return
        if self._in_head:
            # Still in the head after all of ``data``: it was all head. This bounds a header
            # that never ends, which the parser would buffer before calling ``on_header``.
            self._head_raw += len(data)
            if self._head_raw > self._limits.max_header_bytes:
                self._reject(431, "request headers too large", "header_too_large")

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._head_bytes = 0
        self._head_raw = 0
        self._in_head = True
        self._receiving = True
        self._body = []
        self._body_size = 0
        self._started = time.perf_counter()
        self.deadline = self._loop.time() + self._limits.request_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if len(self._url) > self._limits.max_header_bytes:
            raise _Reject(414, "request URL too long", "url_too_long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self._limits.max_header_bytes:
            raise _Reject(431, "request headers too large", "header_too_large")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous}, {text}"

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_bytes > self._limits.max_header_bytes:
            raise _Reject(431, "request headers too large", "header_too_large")
        length = self._headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self._limits.max_body_bytes:
            raise _Reject(
                413,
                f"request body larger than {self._limits.max_body_bytes} bytes",
                "body_too_large",
            )
        if self._headers.get("expect", "").lower() == "100-continue" and self.transport:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._limits.max_body_bytes:
            raise _Reject(
                413,
                f"request body larger than {self._limits.max_body_bytes} bytes",
                "body_too_large",
            )
        self._body.append(body)

    def on_message_complete(self) -> None:
        url = self._url.decode("latin-1")
        path, _, query = url.partition("?")
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        request = Request(
            self._parser.get_method().decode("latin-1"),
            path,
            query,
            self._headers,
            body,
            self._parser.should_keep_alive(),
            self._started,
        )
        self._body = []
        self._receiving = False
        self.deadline = 0.0
        self._queue.append(request)
        if len(self._queue) > _MAX_PIPELINED and self.transport is not None:
            self.transport.pause_reading()
        if self._task is None:
            self._task = self._loop.create_task(self._serve())

    # -- serving -------------------------------------------------------------------------------

    async def _serve(self) -> None:
        try:
            while self._queue and not self.closed:
                request = self._queue.popleft()
                if len(self._queue) == _MAX_PIPELINED and self.transport is not None:
                    self.transport.resume_reading()
                self._keep_alive = request.keep_alive
                self.responding = True
                try:
                    await self._handler(self, request)
                except Exception:
                    log.exception("gateway: unhandled error on %s %s", request.method, request.path)
                    if self._head is None and self.responding and not self.closed:
                        self._keep_alive = False
                        self.respond(
                            500, [], error_body("internal gateway error", "server_error", 500)
                        )
                    else:
                        self.abort()
                if self.responding and not self.closed:  # the handler forgot to answer
                    self.abort()
                if not self._keep_alive:
                    break
        finally:
            self._task = None
            if not self.closed:
                if not self._keep_alive:
                    self.close()
                else:
                    self.deadline = self._loop.time() + self._limits.idle_timeout

    def _reject(self, status: int, message: str, code: str) -> None:
        """Answer a request the parser refused, then close."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        if self.responding:  # mid-response: nothing sane to say
            self.abort()
            return
        self._keep_alive = False
        self._queue.clear()
        self.responding = True
        self.respond(status, [], error_body(message, code, status))

    # -- writing -------------------------------------------------------------------------------

    def _head_bytes_for(self, status: int, headers: list[tuple[str, str]], extra: bytes) -> bytes:
        lines = [status_line(status), _date_header(), self._server_header]
        for name, value in headers:
            lines.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        if not self._keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(extra)
        return b"".join(lines)

    def respond(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        content_type: str = "application/json",
    ) -> None:
        """Send a whole response (``content-length`` is set here)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            self.responding = False
            return
        extra = b"content-type: %s\r\ncontent-length: %d\r\n\r\n" % (
            content_type.encode(),
            len(body),
        )
        head = self._head_bytes_for(status, headers, extra)
        if len(body) < 65536:
            self.transport.write(head + body)
        else:
            self.transport.writelines((head, body))
        self.responding = False
        if not self._keep_alive:
            self.close()

    def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Begin a chunked response; the head goes out with the first chunk."""
        self._head = self._head_bytes_for(status, headers, b"transfer-encoding: chunked\r\n\r\n")

    def send(self, data: bytes) -> None:
        """One chunk of a started response (empty data sends nothing)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        head, self._head = self._head, None
        if not data:
            if head is not None:
                self.transport.write(head)
            return
        frame = b"%x\r\n%b\r\n" % (len(data), data)
        self.transport.write(frame if head is None else head + frame)

    def finish(self, tail: bytes = b"") -> None:
        """Last chunk (optional) and the end of a chunked response."""
        if self.closed or self.transport is None or self.transport.is_closing():
            self.responding = False
            return
        head, self._head = self._head, None
        out = b"" if head is None else head
        if tail:
            out += b"%x\r\n%b\r\n" % (len(tail), tail)
        self.transport.write(out + b"0\r\n\r\n")
        self.responding = False
        if not self._keep_alive:
            self.close()

    async def drain(self) -> None:
        """Wait while the client's socket buffer is full (returns at once if it is not)."""
        if not self._paused or self.closed:
            return
        waiter = self._loop.create_future()
        self._drain_waiter = waiter
        try:
            await waiter
        finally:
            self._drain_waiter = None

    def wait_closed(self) -> asyncio.Future[None]:
        """A future that resolves when the client goes away."""
        if self._closed_waiter is None:
            self._closed_waiter = self._loop.create_future()
            if self.closed:
                self._closed_waiter.set_result(None)
        return self._closed_waiter

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection (a response cannot be completed)."""
        self.responding = False
        self._keep_alive = False
        if self.transport is not None:
            self.transport.abort()

    @property
    def idle(self) -> bool:
        return self._task is None and not self._queue and not self._receiving

    def expire(self) -> None:
        """Called by the server's sweeper once ``deadline`` passed."""
        if self._receiving:
            self._reject(408, "request not received in time", "request_timeout")
        else:
            self.close()

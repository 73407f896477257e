"""A pooled keep-alive HTTP/1.1 client for the upstreams, on asyncio + ``httptools``.

One ``Pool`` per upstream origin keeps idle connections for reuse (LIFO). A request returns an
``UpstreamResponse`` as soon as the status and headers arrived; its body is read whole
(``read``) or chunk by chunk as it arrives (``next_chunk``), with back-pressure: an unread body
larger than ``_HIGH_WATER`` pauses the socket. ``timeout`` bounds the wait for each piece of
the response (headers, every chunk); ``next_chunk(deadline=…)`` adds an absolute bound.

Errors say whether failing over is safe: ``ConnectError`` (nothing was sent) vs the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Iterable
from typing import cast
from urllib.parse import urlsplit

import httptools

__all__ = [
    "ConnectError",
    "Pool",
    "UpstreamClosed",
    "UpstreamError",
    "UpstreamResponse",
    "UpstreamTimeout",
]

_HIGH_WATER = 1024 * 1024
_LOW_WATER = 256 * 1024
_MAX_IDLE = 256


class UpstreamError(Exception):
    """The upstream could not be talked to properly."""


class ConnectError(UpstreamError):
    """No connection could be made: nothing reached the upstream, failing over is safe."""


class UpstreamTimeout(UpstreamError):
    """The upstream sent nothing for too long."""


class UpstreamClosed(UpstreamError):
    """The upstream closed the connection or sent a malformed response."""


class UpstreamResponse:
    """Status, headers and a body that arrives over time."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_deadline",
        "_done",
        "_error",
        "_waiter",
        "headers",
        "status",
    )

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._deadline: float | None = None

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` lower-case)."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def complete(self) -> bool:
        return self._done

    # -- fed by the connection -----------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _push(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER:
            self._conn.pause()
        self._wake()

    def _finish(self) -> None:
        self._done = True
        self._wake()

    def _fail(self, error: UpstreamError) -> None:
        if not self._done and self._error is None:
            self._error = error
        self._wake()

    # -- read by the proxy ---------------------------------------------------------------------

    def set_deadline(self, deadline: float) -> None:
        """Bound the rest of the body to ``deadline`` (``loop.time()``), waking a reader now."""
        self._deadline = deadline
        self._wake()

    async def _wait(self, timeout: float) -> None:
        loop = self._conn.loop
        waiter = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def next_chunk(self, timeout: float, deadline: float | None = None) -> bytes | None:
        """The next piece of body (everything buffered so far), or None at its end.

        Raises UpstreamTimeout after ``timeout`` seconds without data or past ``deadline``
        (``loop.time()``; or the one given to ``set_deadline``), UpstreamClosed if the upstream
        went away mid-body.
        """
        while not self._chunks:
            if deadline is None:
                deadline = self._deadline
            if self._done:
                return None
            if self._error is not None:
                raise self._error
            wait = timeout
            if deadline is not None:
                wait = min(wait, deadline - self._conn.loop.time())
                if wait <= 0:
                    raise UpstreamTimeout("the upstream did not finish in time")
            try:
                await self._wait(wait)
            except TimeoutError:
                raise UpstreamTimeout(f"the upstream sent nothing for {wait:.1f}s") from None
        if len(self._chunks) == 1:
            data = self._chunks.popleft()
        else:
            data = b"".join(self._chunks)
            self._chunks.clear()
        self._buffered = 0
        self._conn.resume()
        return data

    async def read(self, timeout: float) -> bytes:
        """The whole body."""
        parts: list[bytes] = []
        while (chunk := await self.next_chunk(timeout)) is not None:
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def release(self) -> None:
        """Done with this response: reuse the connection if it is clean, else close it."""
        self._conn.release(self)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Connection(asyncio.Protocol):
    """One upstream socket; serves one request at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: UpstreamResponse | None = None
        self.head_waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.reused = False
        self.got_bytes = False
        self.paused = False
        self.keep_alive = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        error = UpstreamClosed("the upstream closed the connection")
        if self.head_waiter is not None and not self.head_waiter.done():
            self.head_waiter.set_exception(error)
        if self.response is not None:
            self.response._fail(error)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            error = UpstreamClosed(f"malformed response from the upstream: {exc}")
            if self.head_waiter is not None and not self.head_waiter.done():
                self.head_waiter.set_exception(error)
            if self.response is not None:
                self.response._fail(error)
            self.close()

    def eof_received(self) -> bool:
        # A close-delimited body (no length, not chunked) ends at EOF.
        response = self.response
        if (
            response is not None
            and response.status
            and not response._done
            and response.header(b"content-length") is None
            and b"chunked" not in (response.header(b"transfer-encoding") or b"").lower()
        ):
            response._finish()
        return False

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None:
            self.response.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if self.response is not None:
            self.response.status = self.parser.get_status_code()
        if self.head_waiter is not None and not self.head_waiter.done():
            self.head_waiter.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._push(body)

    def on_message_complete(self) -> None:
        # llhttp forgets keep-alive once the message is done: read it now.
        self.keep_alive = self.parser.should_keep_alive()
        if self.response is not None:
            self.response._finish()

    # flow control

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    # request cycle

    async def send(self, head: bytes, body: bytes, timeout: float) -> UpstreamResponse:
        assert self.transport is not None
        response = UpstreamResponse(self)
        self.response = response
        self.got_bytes = False
        self.keep_alive = False
        waiter = self.loop.create_future()
        self.head_waiter = waiter
        if body:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head)
        timer = self.loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        except TimeoutError:
            self.close()
            raise UpstreamTimeout(f"no response from the upstream within {timeout:.0f}s") from None
        finally:
            timer.cancel()
            self.head_waiter = None
        return response

    def release(self, response: UpstreamResponse) -> None:
        if self.response is not response:
            return
        self.response = None
        if response._done and not self.closed and not self.paused and self.keep_alive:
            self.reused = True
            self.pool.put_idle(self)
        else:
            self.close()

    def close(self) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Keep-alive connections to one origin (scheme, host, port)."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        default_port = (self.scheme == "https" and self.port == 443) or (
            self.scheme == "http" and self.port == 80
        )
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if default_port else f"{host}:{self.port}"
        self.base_path = parts.path.rstrip("/")
        self.connect_timeout = connect_timeout
        self.ssl: ssl.SSLContext | None = None
        if self.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        self.loop = loop or asyncio.get_running_loop()
        self._idle: deque[_Connection] = deque()
        self.open_connections = 0

    def put_idle(self, conn: _Connection) -> None:
        if len(self._idle) >= _MAX_IDLE:
            conn.close()
        else:
            self._idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)

    async def _connect(self) -> _Connection:
        try:
            _, protocol = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                ),
                self.connect_timeout,
            )
        except asyncio.TimeoutError:
            raise ConnectError(
                f"cannot connect to {self.host_header}: timed out after {self.connect_timeout}s"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConnectError(f"cannot connect to {self.host_header}: {reason}") from None
        assert isinstance(protocol, _Connection)
        return protocol

    def _head(self, method: str, path: str, headers: Iterable[tuple[str, str]], size: int) -> bytes:
        lines = [f"{method} {self.base_path}{path} HTTP/1.1\r\nhost: {self.host_header}\r\n"]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers)
        if size or method in ("POST", "PUT", "PATCH"):
            lines.append(f"content-length: {size}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1", "replace")

    async def request(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        timeout: float,
    ) -> UpstreamResponse:
        """Send a request to ``base path + path``; return once its head arrived."""
        head = self._head(method, path, headers, len(body))
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:
                continue
            try:
                return await conn.send(head, body, timeout)
            except UpstreamClosed:
                if conn.got_bytes:
                    raise
                # A kept-alive connection the upstream had already closed: try a fresh one.
        conn = await self._connect()
        return await conn.send(head, body, timeout)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

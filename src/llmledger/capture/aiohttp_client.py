"""Capture in an ``aiohttp.ClientSession``: a client middleware (aiohttp 3.12 and later), for
apps that call providers without an SDK (DashScope, DeepSeek, Kimi through their
OpenAI-compatible APIs, Anthropic, Gemini).

``MeteringMiddleware`` goes in ``ClientSession(middlewares=[...])`` (or is added to a session by
``llmledger.instrument(session)``). A metered request (``calls.api_for``) goes through its
``Exchange`` like an httpx one: its body replaced (``ClientRequest.update_body``) when capture
asks for the stream's usage, its response's ``content`` (the ``StreamReader`` the app reads
with ``read()``, ``json()``, ``async for line in resp.content`` …) replaced by a
``MeteredContent``: a ``StreamReader`` fed by a small task that reads the network's reader and
passes each chunk through the ``BodyWatch``. The task reads ahead of the app; a response the
app drops unread is read on to its end, so its usage is still the provider's.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import ClientRequest, ClientResponse, StreamReader
from aiohttp.payload import BytesPayload

from llmledger.capture.calls import api_for
from llmledger.capture.exchange import BodyWatch, Metering

if TYPE_CHECKING:
    from aiohttp.client_middlewares import ClientHandlerType

__all__ = ["MeteredContent", "MeteringMiddleware", "install", "supports_middleware"]

log = logging.getLogger("llmledger.capture")

_LIMIT = 2**16


class _Unpaced:
    """The protocol a ``MeteredContent`` is read through: always connected, never paused (its
    feeding task reads the network's own reader, which keeps the real flow control)."""

    connected = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class MeteredContent(StreamReader):
    """A response body as the app reads it: the network's reader, passed through a watch."""

    def __init__(
        self, source: StreamReader, watch: BodyWatch, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(_Unpaced(), _LIMIT, loop=loop)  # type: ignore[arg-type]
        self._watch = watch
        self._feeding = True
        # The task, not this reader, keeps the watch: a reader the app drops is read on.
        self._task = loop.create_task(_feed(weakref.ref(self), source, watch))

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        """Also how aiohttp tells a body that the app closed or released its response: the
        watch hears it, the feeding task stops."""
        if exc_cause is None:
            super().set_exception(exc)
        else:
            super().set_exception(exc, exc_cause)
        if self._feeding:
            self._feeding = False
            self._task.cancel()
            self._watch.closed(sys.exc_info()[1])

    def _fed(self, data: bytes) -> None:
        if data and self._feeding:
            self.feed_data(data)

    def _ended(self, exc: BaseException | None) -> None:
        """The network's reader ended (``exc`` None) or failed."""
        if not self._feeding:
            return
        self._feeding = False
        if exc is None:
            self.feed_eof()
        else:
            super().set_exception(exc)


async def _feed(ref: weakref.ref[MeteredContent], source: StreamReader, watch: BodyWatch) -> None:
    """Reads the network's reader into the app's, through the watch, to the body's end. Holds
    the app's reader weakly: one the app dropped is not fed, but the body is still read (its
    usage comes at the end)."""
    try:
        while chunk := await source.readany():
            out = watch.feed(chunk)
            content = ref()
            if content is not None:
                content._fed(out)
    except (asyncio.CancelledError, GeneratorExit):
        # Closed by the app (``set_exception`` told the watch already), or the event loop
        # ended first: then the body was dropped.
        watch.abandoned()
        raise
    except BaseException as exc:
        watch.failed(exc)
        content = ref()
        if content is not None:
            content._ended(exc)
        return
    tail = watch.end()
    content = ref()
    if content is not None:
        content._fed(tail)
        content._ended(None)


async def _request_body(request: ClientRequest) -> bytes | None:
    """The request's body when it is in memory (JSON, bytes); None for a streamed one."""
    body = request.body
    if isinstance(body, BytesPayload):
        return await body.as_bytes()
    return None if body else b""


class MeteringMiddleware:
    """An aiohttp client middleware that meters the LLM calls of its session."""

    def __init__(self, metering: Metering, *, decoded: bool = True) -> None:
        self.metering = metering
        self.decoded = decoded  # the session undoes content codings (``auto_decompress``)

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        url = request.url
        api = api_for(request.method, url.path)
        if api is None:
            return await handler(request)
        exchange = self.metering.start(api, url.host or "", url.path, await _request_body(request))
        if exchange is None:
            return await handler(request)
        if exchange.rewrites_request:
            try:
                await request.update_body(exchange.body)
                request.headers["Accept-Encoding"] = "identity"
            except Exception:
                exchange.send_apps_own()
                await request.update_body(exchange.body)
        try:
            response = await handler(request)
            status = response.status
            if exchange.wants_error_body(status) and exchange.refused_option(
                status, await response.read()
            ):
                response.release()
                await request.update_body(exchange.body)  # the app's own
                response = await handler(request)
        except BaseException as exc:
            exchange.failed(exc)
            raise
        watch = exchange.response(response.status, response.raw_headers, decoded=self.decoded)
        if watch is not None:
            loop = asyncio.get_running_loop()
            response.content = MeteredContent(response.content, watch, loop)
        return response


def supports_middleware() -> bool:
    """aiohttp 3.12 and later take client middlewares."""
    return "_middlewares" in getattr(aiohttp.ClientSession, "ATTRS", ())


def install(session: aiohttp.ClientSession, metering: Metering) -> Metering:
    """Add a ``MeteringMiddleware`` to an existing session (or give the one it has the new
    settings); returns the metering in effect.

    aiohttp takes middlewares when a session is made (``middlewares=``) and has no public way
    to add one afterwards: they are its ``_middlewares`` tuple.
    """
    if not supports_middleware():
        raise TypeError(
            f"instrumenting an aiohttp session needs aiohttp 3.12 or later (client "
            f"middleware); this is aiohttp {aiohttp.__version__}"
        )
    middlewares: tuple[object, ...] = getattr(session, "_middlewares", ())
    for middleware in middlewares:
        if isinstance(middleware, MeteringMiddleware):
            middleware.metering.settings = metering.settings
            return middleware.metering
    decoded = bool(getattr(session, "auto_decompress", True))
    added = MeteringMiddleware(metering, decoded=decoded)
    setattr(session, "_middlewares", (*middlewares, added))  # noqa: B010
    return metering

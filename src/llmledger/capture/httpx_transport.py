"""Capture at the httpx transport: the seam both SDKs are built on (their ``http_client=``) and
that any app's own ``httpx`` / ``httpx2`` client has.

``MeteredTransport`` / ``AsyncMeteredTransport`` wrap the transport an httpx client sends
through. A metered request (``calls.api_for``) goes through its ``Exchange``: sent with the
body it decided (a new ``Request``, the app's headers and extensions kept), its response handed
back with ``response.stream`` (the body stream httpx reads, its documented transport interface)
wrapped in a stream that shows each chunk to the ``BodyWatch`` and passes on what the watch
returns. Other requests go straight through. Both SDKs read streams through
``response.iter_bytes()`` over that body stream, whichever SSE decoder or stream helper a
release uses, so nothing here depends on SDK internals.

Works with ``httpx`` and ``httpx2`` alike: a metered body stream subclasses the client
library's own ``SyncByteStream`` / ``AsyncByteStream`` (httpx checks it).
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import Protocol, cast

from llmledger.capture.calls import api_for
from llmledger.capture.exchange import BodyWatch, Exchange, Metering

__all__ = [
    "AsyncMeteredTransport",
    "MeteredTransport",
    "install",
    "is_http_client",
    "metering_of",
    "wrap",
]

log = logging.getLogger("llmledger.capture")


class URL(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def path(self) -> str: ...


class Headers(Protocol):
    @property
    def raw(self) -> list[tuple[bytes, bytes]]: ...
    def copy(self) -> Headers: ...
    def __contains__(self, key: object) -> bool: ...
    def __setitem__(self, key: str, value: str) -> None: ...
    def __delitem__(self, key: str) -> None: ...


class Request(Protocol):
    """What is used of an ``httpx.Request`` / ``httpx2.Request``."""

    method: str
    headers: Headers
    extensions: Mapping[str, object]

    @property
    def url(self) -> URL: ...
    @property
    def content(self) -> bytes: ...
    def read(self) -> bytes: ...
    async def aread(self) -> bytes: ...


class Response(Protocol):
    """What is used of an ``httpx.Response`` / ``httpx2.Response``."""

    status_code: int
    headers: Headers
    stream: object
    is_stream_consumed: bool

    @property
    def content(self) -> bytes: ...
    def read(self) -> bytes: ...
    def close(self) -> None: ...
    async def aread(self) -> bytes: ...
    async def aclose(self) -> None: ...


class SyncTransport(Protocol):
    def handle_request(self, request: Request) -> Response: ...
    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def handle_async_request(self, request: Request) -> Response: ...
    async def aclose(self) -> None: ...


class SyncBody(Protocol):
    def __iter__(self) -> Iterator[bytes]: ...
    def close(self) -> None: ...


class AsyncBody(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...
    async def aclose(self) -> None: ...


def _outgoing(request: Request, exchange: Exchange) -> Request:
    """The request to send: the app's, or a copy with the body the exchange decided."""
    if not exchange.rewrites_request:
        return request
    try:
        body = exchange.body
        headers = request.headers.copy()
        if "transfer-encoding" in headers:
            del headers["transfer-encoding"]
        headers["content-length"] = str(len(body))
        headers["accept-encoding"] = "identity"  # a stream's bytes are rewritten: not compressed
        make: Callable[..., Request] = type(request)
        # ``stream=`` takes the headers as they are (``content=`` re-derives them: 4x the cost).
        return make(
            request.method,
            request.url,
            headers=headers,
            stream=_byte_stream(request)(body),
            extensions=request.extensions,
        )
    except Exception:
        exchange.send_apps_own()
        return request


@functools.cache
def _byte_stream_of(library: str) -> Callable[[bytes], object]:
    return cast(Callable[[bytes], object], importlib.import_module(library).ByteStream)


def _byte_stream(request: Request) -> Callable[[bytes], object]:
    """``httpx.ByteStream`` or ``httpx2.ByteStream``: a request body for ``request``'s library."""
    return _byte_stream_of(type(request).__module__.partition(".")[0])


def _readable_body(request: Request) -> bytes | None:
    try:
        return request.content
    except Exception:  # a streamed body not read yet
        return None


class MeteredTransport:
    """An httpx transport that meters the LLM calls it sends through ``inner``."""

    def __init__(self, inner: SyncTransport, metering: Metering) -> None:
        self.inner = inner
        self.metering = metering

    def handle_request(self, request: Request) -> Response:
        url = request.url
        api = api_for(request.method, url.path)
        if api is None:
            return self.inner.handle_request(request)
        body = _readable_body(request)
        exchange = self.metering.start(
            api, url.host, url.path, request.read() if body is None else body
        )
        if exchange is None:
            return self.inner.handle_request(request)
        try:
            response = self.inner.handle_request(_outgoing(request, exchange))
            status = response.status_code
            if exchange.wants_error_body(status) and exchange.refused_option(
                status, response.read()
            ):
                response.close()
                response = self.inner.handle_request(_outgoing(request, exchange))
        except BaseException as exc:
            exchange.failed(exc)
            raise
        watch = exchange.response(response.status_code, response.headers.raw)
        if watch is not None and not _read_already(response, watch):
            response.stream = _stream_types(response)[0](cast(SyncBody, response.stream), watch)
        return response

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> MeteredTransport:
        enter = getattr(self.inner, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        leave = getattr(self.inner, "__exit__", None)
        if leave is not None:
            leave(kind, exc, tb)


class AsyncMeteredTransport:
    """An httpx async transport that meters the LLM calls it sends through ``inner``."""

    def __init__(self, inner: AsyncTransport, metering: Metering) -> None:
        self.inner = inner
        self.metering = metering

    async def handle_async_request(self, request: Request) -> Response:
        url = request.url
        api = api_for(request.method, url.path)
        if api is None:
            return await self.inner.handle_async_request(request)
        body = _readable_body(request)
        exchange = self.metering.start(
            api, url.host, url.path, await request.aread() if body is None else body
        )
        if exchange is None:
            return await self.inner.handle_async_request(request)
        try:
            response = await self.inner.handle_async_request(_outgoing(request, exchange))
            status = response.status_code
            if exchange.wants_error_body(status) and exchange.refused_option(
                status, await response.aread()
            ):
                await response.aclose()
                response = await self.inner.handle_async_request(_outgoing(request, exchange))
        except BaseException as exc:
            exchange.failed(exc)
            raise
        watch = exchange.response(response.status_code, response.headers.raw)
        if watch is not None and not _read_already(response, watch):
            response.stream = _stream_types(response)[1](cast(AsyncBody, response.stream), watch)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> AsyncMeteredTransport:
        enter = getattr(self.inner, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        leave = getattr(self.inner, "__aexit__", None)
        if leave is not None:
            await leave(kind, exc, tb)


# -- the body streams -------------------------------------------------------------------------


def _read_already(response: Response, watch: BodyWatch) -> bool:
    """A body the transport read before handing the response on (httpx's ``MockTransport``
    with ``content=`` or ``json=``) is shown to the watch whole; the app reads it unchanged."""
    if not getattr(response, "is_stream_consumed", False):
        return False
    watch.feed(response.content)
    watch.end()
    watch.closed(None)
    return True


class _MeteredBody:
    """A response body as the app's client reads it: each chunk shown to the watch.

    A ``GeneratorExit`` inside the iteration means it was dropped (nothing else closes it);
    an exception, that the network cut the body. ``close()`` passes on the exception on its
    way up through the code closing the body: the SDK's own generator closes it in a
    ``finally``, whether it stopped at ``[DONE]``, raised an error event or was collected.
    """

    def __init__(self, inner: SyncBody, watch: BodyWatch) -> None:
        self._inner = inner
        self._watch = watch
        watch.watch_until_collected(self)

    def __iter__(self) -> Iterator[bytes]:
        watch = self._watch
        try:
            for chunk in self._inner:
                out = watch.feed(chunk)
                if out:
                    yield out
        except GeneratorExit:
            watch.abandoned()
            raise
        except BaseException as exc:
            watch.failed(exc)
            raise
        tail = watch.end()
        if tail:
            yield tail

    def close(self) -> None:
        exc = sys.exc_info()[1]
        try:
            self._inner.close()
        finally:
            self._watch.closed(exc)


class _AsyncMeteredBody:
    """``_MeteredBody`` for async clients."""

    def __init__(self, inner: AsyncBody, watch: BodyWatch) -> None:
        self._inner = inner
        self._watch = watch
        watch.watch_until_collected(self)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        watch = self._watch
        try:
            async for chunk in self._inner:
                out = watch.feed(chunk)
                if out:
                    yield out
        except GeneratorExit:
            watch.abandoned()
            raise
        except BaseException as exc:
            watch.failed(exc)
            raise
        tail = watch.end()
        if tail:
            yield tail

    async def aclose(self) -> None:
        exc = sys.exc_info()[1]
        try:
            await self._inner.aclose()
        finally:
            self._watch.closed(exc)


BodyTypes = tuple[
    Callable[[SyncBody, BodyWatch], SyncBody], Callable[[AsyncBody, BodyWatch], AsyncBody]
]


def _stream_types(response: Response) -> BodyTypes:
    return _body_types(type(response).__module__.partition(".")[0])


@functools.cache
def _body_types(library: str) -> BodyTypes:
    """The metered body classes for ``httpx`` or ``httpx2``: subclasses of its byte streams."""
    module = importlib.import_module(library)
    sync = type("MeteredByteStream", (_MeteredBody, module.SyncByteStream), {})
    async_ = type("AsyncMeteredByteStream", (_AsyncMeteredBody, module.AsyncByteStream), {})
    return sync, async_


# -- installing into a client -------------------------------------------------------------------

Metered = MeteredTransport | AsyncMeteredTransport


def wrap(transport: object, metering: Metering, *, asynchronous: bool | None = None) -> Metered:
    """``transport`` metered (an httpx ``BaseTransport`` or ``AsyncBaseTransport``).

    ``asynchronous`` names the side to meter of a transport that has both (httpx's
    ``MockTransport``): its client's; by default the async one."""
    if isinstance(transport, (MeteredTransport, AsyncMeteredTransport)):
        transport.metering = metering
        return transport
    if asynchronous is None:
        asynchronous = hasattr(transport, "handle_async_request")
    if asynchronous:
        return AsyncMeteredTransport(cast(AsyncTransport, transport), metering)
    return MeteredTransport(cast(SyncTransport, transport), metering)


def is_http_client(client: object) -> bool:
    """An ``httpx`` / ``httpx2`` ``Client`` or ``AsyncClient``."""
    libraries = {cls.__module__.partition(".")[0] for cls in type(client).__mro__}
    return bool(libraries & {"httpx", "httpx2"}) and hasattr(client, "_transport")


def metering_of(client: object) -> Metering | None:
    """The metering installed in an httpx client, if any."""
    transport = getattr(client, "_transport", None)
    return (
        transport.metering
        if isinstance(transport, (MeteredTransport, AsyncMeteredTransport))
        else None
    )


def install(client: object, metering: Metering) -> Metering:
    """Meter every transport of an httpx client (its default one and those mounted, e.g. for
    proxies); returns the metering in effect. An instrumented client keeps its transports and
    takes the new settings.

    httpx takes transports when a client is made (``transport=``, ``mounts=``) and has no
    public way to change them afterwards: they are its ``_transport`` and ``_mounts``,
    unchanged since httpx 0.18 and in httpx2.
    """
    existing = metering_of(client)
    if existing is not None:
        existing.settings = metering.settings
        return existing
    transport = getattr(client, "_transport", None)
    if transport is None:
        raise TypeError(f"{type(client).__name__} has no httpx transport to meter")
    asynchronous = hasattr(client, "__aenter__")  # an AsyncClient
    mounts: dict[object, object | None] = getattr(client, "_mounts", {})
    for pattern, mounted in list(mounts.items()):
        if mounted is not None:
            mounts[pattern] = wrap(mounted, metering, asynchronous=asynchronous)
    setattr(client, "_transport", wrap(transport, metering, asynchronous=asynchronous))  # noqa: B010
    return metering

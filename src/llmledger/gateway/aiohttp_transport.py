"""``Transport`` on aiohttp: one client session (and connection pool) per upstream.

* Keep-alive connections are pooled per upstream, at most ``max_connections`` open at once;
  requests beyond that wait for a free one (bounded by the upstream's ``timeout``).
* TLS is verified against the system's certificate store.
* ``connect_timeout`` bounds the TCP (and TLS, proxy) connect; ``timeout`` bounds every wait
  for the response head and each piece of the body.
* ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` are read once per upstream at start, with
  aiohttp's own rules (what ``trust_env`` does, minus its two thread hops per request).
* A POST is never sent again by the client on its own (aiohttp retries only idempotent
  methods on a dropped keep-alive connection); informational ``1xx`` heads are skipped.
* Bodies pass through as they came: no decompression, no re-chunking.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from llmledger.gateway.config import UpstreamConfig
from llmledger.gateway.transport import (
    ConnectError,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeout,
)

__all__ = ["AiohttpTransport", "env_proxy"]

_MAX_HEADER_BYTES = 65536
_URL_CACHE_LIMIT = 1024


def env_proxy(base_url: str) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """The proxy the environment names for ``base_url`` (None when none or ``NO_PROXY``)."""
    try:
        proxy, auth = get_env_proxy_for_url(URL(base_url))
    except LookupError:
        return None, None
    return str(proxy), auth


def _timeout(connect: float, read: float) -> aiohttp.ClientTimeout:
    """``connect`` bounds the TCP/TLS/proxy connect; ``read`` every wait for the response,
    and the wait for a free pooled connection."""
    return aiohttp.ClientTimeout(total=None, connect=read, sock_connect=connect, sock_read=read)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


class _Response:
    """An aiohttp response behind the ``UpstreamResponse`` protocol."""

    __slots__ = ("_complete", "_expired", "_resp", "_timer", "raw_headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.raw_headers: Sequence[tuple[bytes, bytes]] = resp.raw_headers
        self._complete = False
        self._expired = False
        self._timer: asyncio.TimerHandle | None = None

    def header(self, name: str) -> str | None:
        return self._resp.headers.get(name)

    @property
    def complete(self) -> bool:
        return self._complete

    def _failure(self, exc: BaseException) -> UpstreamError:
        if self._expired:
            return UpstreamTimeout("the drain deadline passed")
        if isinstance(exc, asyncio.TimeoutError):
            return UpstreamTimeout("no answer within the timeout")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return UpstreamError(f"the response was cut short: {_describe(exc)}")
        return UpstreamError(_describe(exc))

    async def read(self) -> bytes:
        try:
            body = await self._resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._failure(exc) from None
        self._complete = True
        return body

    async def next_chunk(self) -> bytes | None:
        try:
            chunk = await self._resp.content.readany()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._failure(exc) from None
        if chunk:
            return chunk
        if self._expired:
            raise UpstreamTimeout("the drain deadline passed")
        self._complete = True
        return None

    def set_deadline(self, when: float) -> None:
        if self._timer is None and not self._complete:
            self._timer = asyncio.get_running_loop().call_at(when, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._resp.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._complete:
            self._resp.release()
        else:
            self._resp.close()


class AiohttpTransport:
    """One ``aiohttp.ClientSession`` per upstream, made on first use inside the event loop."""

    def __init__(self, upstreams: Iterable[UpstreamConfig]) -> None:
        self._configs = {u.name: u for u in upstreams}
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._proxies = {name: env_proxy(u.base_url) for name, u in self._configs.items()}
        self._urls: dict[str, URL] = {}
        self._timeouts = {
            name: _timeout(u.connect_timeout, u.timeout) for name, u in self._configs.items()
        }

    def proxy_for(self, upstream: str) -> str | None:
        return self._proxies[upstream][0]

    def _session(self, name: str) -> aiohttp.ClientSession:
        session = self._sessions.get(name)
        if session is None:
            config = self._configs[name]
            connector = aiohttp.TCPConnector(limit=config.max_connections, limit_per_host=0)
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                trust_env=False,  # the environment's proxy is read once, in __init__
                skip_auto_headers=("User-Agent",),
                # No cookie jar: a cookie the upstream sets for one client's request must not
                # ride along on every other client's requests.
                cookie_jar=aiohttp.DummyCookieJar(),
                max_line_size=_MAX_HEADER_BYTES,
                max_field_size=_MAX_HEADER_BYTES,
            )
            self._sessions[name] = session
        return session

    async def send(self, request: UpstreamRequest) -> _Response:
        session = self._session(request.upstream)
        proxy, proxy_auth = self._proxies[request.upstream]
        config = self._configs[request.upstream]
        timeout = self._timeouts[request.upstream]
        if request.timeout != config.timeout:
            timeout = _timeout(min(config.connect_timeout, request.timeout), request.timeout)
        url = self._urls.get(request.url)
        if url is None:
            if len(self._urls) >= _URL_CACHE_LIMIT:
                self._urls.clear()
            url = self._urls[request.url] = URL(request.url, encoded=True)
        try:
            resp = await session.request(
                request.method,
                url,
                headers=list(request.headers),
                data=request.body or None,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
                timeout=timeout,
            )
        except (aiohttp.ClientConnectorError, aiohttp.ClientHttpProxyError) as exc:
            raise ConnectError(_describe(exc)) from None
        except aiohttp.ConnectionTimeoutError:
            raise ConnectError("connect timed out") from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            if isinstance(exc, asyncio.TimeoutError):
                raise UpstreamTimeout("no response head within the timeout") from None
            raise UpstreamError(_describe(exc)) from None
        return _Response(resp)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.close()

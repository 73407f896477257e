"""``instrument(client)``: record the usage of every LLM call a client makes.

Capture meters HTTP calls at the client's transport (``capture/exchange.py``), so one seam
serves every way an app reaches a provider:

* ``openai`` / ``anthropic`` SDK clients (sync and async): the httpx client the SDK sends
  through (the one it was given as ``http_client=``, or made) has its transports wrapped.
  Every resource, helper and release goes through it; copies made with ``with_options`` /
  ``copy`` share it, and so are metered with the same settings;
* ``httpx`` / ``httpx2`` ``Client`` and ``AsyncClient``: their transports are wrapped;
* ``aiohttp.ClientSession``: a client middleware is added.

For a client being made, the documented seams take the same metering without touching an
existing object: ``metered_transport(inner)`` for ``httpx.Client(transport=...)`` (and so for
an SDK's ``http_client=``), ``metering_middleware()`` for ``ClientSession(middlewares=[...])``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from llmledger.capture import httpx_transport
from llmledger.capture.context import make_attribution
from llmledger.capture.exchange import Metering, Settings
from llmledger.capture.record import Sink
from llmledger.ledger import Ledger

if TYPE_CHECKING:
    from llmledger.capture.aiohttp_client import MeteringMiddleware
    from llmledger.capture.httpx_transport import AsyncTransport, Metered, SyncTransport

__all__ = ["instrument", "is_instrumented", "metered_transport", "metering_middleware"]

log = logging.getLogger("llmledger.capture")

C = TypeVar("C")

_SDKS = frozenset({"openai", "anthropic"})


def _settings(
    ledger: Ledger | None, provider: str | None, include_usage: bool, attributes: dict[str, Any]
) -> Settings:
    return Settings(Sink(ledger), provider, make_attribution(**attributes), include_usage)


def _library(client: object) -> str:
    """The package a client comes from: ``openai``, ``httpx``, ``aiohttp`` …"""
    for cls in type(client).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in _SDKS:
            return root
    return type(client).__module__.partition(".")[0]


def _sdk_http_client(client: object) -> object:
    """The httpx client an SDK client sends through: the ``http_client`` it was given or made.
    Both SDKs keep it as ``_client`` (openai since 1.0, anthropic since 0.3): the one SDK
    attribute capture reads."""
    http = getattr(client, "_client", None)
    if http is None or not httpx_transport.is_http_client(http):
        raise TypeError(f"{type(client).__name__} sends through no httpx client to meter")
    return http


def instrument(
    client: C,
    ledger: Ledger | None = None,
    *,
    provider: str | None = None,
    include_usage: bool = True,
    **attributes: Any,
) -> C:
    """Record the usage of every LLM call ``client`` makes into ``ledger`` (default: the
    default ledger); returns ``client`` itself.

    ``client``: an ``openai`` or ``anthropic`` SDK client, an ``httpx`` / ``httpx2`` client or
    an ``aiohttp.ClientSession``. ``provider`` overrides the provider detected from each
    request's URL. ``attributes`` (``user_id``, ``org_id``, ``session_id``, ``request_type``,
    ``project``, ``account``, ``api_key_id``, ``tags``) are defaults for every call;
    ``llmledger.attribute`` blocks override them per call. ``include_usage=False`` never adds
    ``stream_options`` to streams (their usage is then estimated unless the caller asks for
    it). Instrumenting a client again replaces these settings.
    """
    library = _library(client)
    settings = _settings(ledger, provider, include_usage, attributes)
    if library in _SDKS:
        settings.sdk_errors = True
        httpx_transport.install(_sdk_http_client(client), Metering(settings))
    elif httpx_transport.is_http_client(client):
        httpx_transport.install(client, Metering(settings))
    elif library == "aiohttp":
        import aiohttp

        from llmledger.capture import aiohttp_client

        if not isinstance(client, aiohttp.ClientSession):
            raise TypeError(f"instrument() takes an aiohttp.ClientSession, not {type(client)}")
        aiohttp_client.install(client, Metering(settings))
    else:
        raise TypeError(
            "instrument() supports openai and anthropic SDK clients, httpx clients and "
            f"aiohttp sessions, not {type(client).__name__}"
        )
    _warm_estimator()
    return client


def is_instrumented(client: object) -> bool:
    """``client`` (an SDK client, an httpx client or an aiohttp session) is metered."""
    if _library(client) in _SDKS:
        client = getattr(client, "_client", None)
    if httpx_transport.metering_of(client) is not None:
        return True
    middlewares = getattr(client, "_middlewares", ())
    return any(type(m).__name__ == "MeteringMiddleware" for m in middlewares)


def metered_transport(
    inner: SyncTransport | AsyncTransport,
    ledger: Ledger | None = None,
    *,
    provider: str | None = None,
    include_usage: bool = True,
    **attributes: Any,
) -> Metered:
    """An httpx transport (sync or async, as ``inner``) that meters the LLM calls sent
    through ``inner``, for ``httpx.Client(transport=...)``; the arguments are
    ``instrument``'s."""
    settings = _settings(ledger, provider, include_usage, attributes)
    _warm_estimator()
    transport = httpx_transport.wrap(inner, Metering(settings))
    return transport


def metering_middleware(
    ledger: Ledger | None = None,
    *,
    provider: str | None = None,
    include_usage: bool = True,
    **attributes: Any,
) -> MeteringMiddleware:
    """An aiohttp client middleware metering a session's LLM calls, for
    ``aiohttp.ClientSession(middlewares=[...])``; the arguments are ``instrument``'s."""
    from llmledger.capture.aiohttp_client import MeteringMiddleware

    _warm_estimator()
    return MeteringMiddleware(Metering(_settings(ledger, provider, include_usage, attributes)))


# -- estimator warm-up ----------------------------------------------------------------------

_warm_lock = threading.Lock()
_warmed = False


def _warm_estimator() -> None:
    """Load the offline tokenizer in the background once, so the first stream that needs an
    estimate does not pay for it on the app's path."""
    global _warmed
    with _warm_lock:
        if _warmed:
            return
        _warmed = True

    def load() -> None:
        try:
            from llmledger.estimate import tokenizer_name

            tokenizer_name()
        except Exception:
            log.debug("tokenizer warm-up failed", exc_info=True)

    threading.Thread(target=load, name="llmledger-estimator-warmup", daemon=True).start()

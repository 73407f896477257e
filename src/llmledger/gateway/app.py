"""The gateway as one ASGI application: ``create_app()`` builds it.

Routes (Starlette): the metered API paths ``POST /v1/chat/completions``, ``/v1/completions``,
``/v1/responses``, ``/v1/embeddings``, ``/v1/messages`` and the same without ``/v1`` (raw
ASGI endpoints, ``proxy.py``); ``GET /v1/models`` (and ``/models``); ``GET /healthz``;
``GET /metrics``; the dashboard (``llmledger.web``: ``/``, ``/static/…``,
``/api/dashboard/…``); the usage API (``api_routes.py``: ``/api/account/…``, ``/api/admin/…``,
``/api/estimate``, ``/api/test/simulate-tokens``, ``/openapi.json``). ``HEAD`` is answered
wherever ``GET`` is, ``OPTIONS`` everywhere (204 with ``Allow``), CORS only for the origins
configured. Every error is a JSON body in the shape of the API the client speaks.

Run it with ``llmledger serve``, or under any ASGI server:
``uvicorn --factory llmledger.gateway:create_app``.

The metered paths are Starlette routes like the others; when no middleware (CORS) has to see
them, a POST to one is handed to its endpoint at once (``GatewayApp``), which saves the
router's matching and two wrappers of ``send`` on the gateway's hottest path.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from llmledger.config import Config
from llmledger.errors import ConfigError
from llmledger.gateway.accesslog import AccessLog
from llmledger.gateway.api_routes import api_routes
from llmledger.gateway.asgi import Receive, Scope, Send, request_headers
from llmledger.gateway.config import GatewayConfig, parse_gateway_config
from llmledger.gateway.dashboard_access import dashboard_guard, upstream_health
from llmledger.gateway.endpoints import ENDPOINTS
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.metering import USAGE_HEADERS
from llmledger.gateway.models import list_models
from llmledger.gateway.proxy import ProxyEndpoint
from llmledger.gateway.state import Gateway
from llmledger.gateway.transport import Transport
from llmledger.integrations import Integrations
from llmledger.ledger import Ledger
from llmledger.web.app import dashboard_routes

__all__ = ["GatewayApp", "create_app", "load_gateway_config"]

_encode = msgspec.json.Encoder().encode
_JSON = "application/json"


def load_gateway_config(
    config: Config, *, host: str | None = None, port: int | None = None
) -> GatewayConfig:
    """The ``[gateway]`` and ``[[upstreams]]`` of a loaded config; at least one upstream."""
    gateway = parse_gateway_config(config.raw)
    if not gateway.upstreams:
        where = f" in {config.path}" if config.path else " (no config file found)"
        raise ConfigError(
            f"upstreams: no [[upstreams]] configured{where}; add one (see 'llmledger serve --help')"
        )
    settings = gateway.settings
    if host is not None:
        settings = replace(settings, host=host)
    if port is not None:
        settings = replace(settings, port=port)
    return replace(gateway, settings=settings)


def _json(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body, status, headers, media_type=_JSON)


class GatewayApp(Starlette):
    """Starlette, with a direct path for POSTs to the metered API paths (``fast``)."""

    fast: dict[str, ProxyEndpoint]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.fast.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _routes(gw: Gateway) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for path, endpoint in ENDPOINTS.items():
        proxy = ProxyEndpoint(gw, endpoint)
        routes.append(Route(path, proxy, methods=["POST"]))
        routes.append(Route(path.removeprefix("/v1"), proxy, methods=["POST"]))

    async def healthz(request: Request) -> Response:
        status, body = gw.health()
        return _json(status, _encode(body))

    async def metrics(request: Request) -> Response:
        token = gw.settings.metrics_token
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()
            ):
                raise GatewayError(
                    401,
                    "/metrics needs 'Authorization: Bearer <metrics token>' "
                    "(gateway.metrics_token_env / metrics_token_file)",
                    "metrics_token_required",
                )
        return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")

    async def models(request: Request) -> Response:
        headers = request_headers(request.scope)
        await gw.authenticate(headers)
        return _json(200, await list_models(gw, "anthropic-version" in headers))

    routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
    ]
    return routes


def _handlers(gw: Gateway) -> dict[type[Exception] | int, object]:
    async def gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        gw.metrics.rejected.inc((exc.code,))
        return _json(exc.status, exc.body("openai"))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        method, path = request.method, request.url.path
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            if method == "OPTIONS":  # what may be done here: 204 and the methods
                return Response(status_code=204, headers={"Allow": f"{allowed}, OPTIONS"})
            error = GatewayError(405, f"{method} is not allowed on {path}", "method_not_allowed")
            return _json(405, error.body(), {"Allow": f"{allowed}, OPTIONS"})
        if exc.status_code == 404:
            error = GatewayError(404, f"no such endpoint: {method} {path}", "not_found")
        else:
            error = GatewayError(exc.status_code, str(exc.detail), "bad_request")
        gw.metrics.rejected.inc((error.code,))
        return _json(error.status, error.body(), exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        error = GatewayError(500, "the gateway failed to handle this request", "internal_error")
        return _json(500, error.body())

    return {GatewayError: gateway_error, HTTPException: http_error, Exception: server_error}


def create_app(
    config: GatewayConfig | Config | None = None,
    ledger: Ledger | None = None,
    *,
    transport: Transport | None = None,
) -> Starlette:
    """The gateway's ASGI application.

    ``config``: the gateway's parsed config, or a loaded llmledger ``Config`` to read it from;
    by default the ledger's config (``--config`` / ``LLMLEDGER_CONFIG`` / the data dir's).
    ``ledger``: where usage goes; by default the usual one (``LLMLEDGER_DB`` or the data
    dir), opened here and closed at shutdown. ``transport``: the upstream client (tests).
    """
    owned = ledger is None
    if ledger is None:
        ledger = Ledger(config=config if isinstance(config, Config) else None)
    try:
        if not isinstance(config, GatewayConfig):
            config = load_gateway_config(config if config is not None else ledger.config)
        access_log = AccessLog(config.settings.access_log)
        integrations = Integrations.for_ledger(ledger)  # alert delivery, the Telegram webhook
    except BaseException:
        if owned:
            ledger.close()
        raise
    if transport is None:
        from llmledger.gateway.aiohttp_transport import AiohttpTransport

        transport = AiohttpTransport(config.upstreams)
    gw = Gateway(config, ledger, access_log, transport)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gw.start()
        await integrations.start()
        try:
            yield
        finally:
            await integrations.close()
            await gw.close()
            access_log.close()
            if owned:
                ledger.close()
            else:
                ledger.flush(timeout=config.settings.shutdown_timeout)

    middleware = []
    if config.settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=[*USAGE_HEADERS, "x-request-id"],
                max_age=600,
            )
        )
    # The dashboard at / (its views ask who calls, as the usage API does: a user sees their
    # own usage, the admin token everything); the gateway's own routes and the usage API
    # (/api/account, /api/admin, /openapi.json) come first and win.
    dashboard = dashboard_routes(
        ledger,
        usage_meter=True,
        guard=dashboard_guard(gw),
        upstream_health=upstream_health(gw),
        test_page=config.server.allow_simulation,
    )
    routes = _routes(gw) + api_routes(gw) + integrations.routes + dashboard
    app = GatewayApp(
        routes=routes,
        middleware=middleware,
        exception_handlers=_handlers(gw),  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.fast = {}
    if not middleware:
        for route in routes:
            if isinstance(route, Route) and isinstance(route.app, ProxyEndpoint):
                app.fast[route.path] = route.app
    app.state.gateway = gw
    return app

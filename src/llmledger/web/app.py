"""The dashboard as Starlette routes: the page at ``/``, its assets under ``/static/``, and its
JSON views under ``/api/dashboard/``. ``llmledger dashboard`` serves them on their own
(``create_dashboard_app``); the gateway adds them to its routes (``dashboard_routes``).

Views (GET; window and filters as query parameters ``tz``, ``since``, ``until``, ``days``,
``year``, ``source`` (repeatable), as the CLI's options):

- ``graph``: the contribution graph, tokscale's ``graph`` export shape (graph.py)
- ``day/{YYYY-MM-DD}``: one day by source and model (404: no usage that day)
- ``daily`` (``groupBy=source|model|…``), ``models``, ``sessions`` (``limit``): as
  ``llmledger daily|models|sessions --json``
- ``cache``: the cache hit ratio per day; ``unpriced``: the models without a price
- ``admin/top?by=user|api_key|account|org``: only with ``admin=True``

Every read goes through the Ledger, off the event loop. A bad parameter is a 400 JSON error
naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import tzinfo

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from llmledger import __version__
from llmledger.ledger import Ledger
from llmledger.report.aggregate import GROUP_BY_CHOICES
from llmledger.report.timezones import resolve_zone, today, zone_name
from llmledger.web import views
from llmledger.web.graph import Catalog, build_graph, encode_graph, read_catalog
from llmledger.web.page import STATIC_DIR, PageConfig, render_page
from llmledger.web.query import DashboardQuery, QueryError, parse_day, parse_query

__all__ = ["Guard", "create_dashboard_app", "dashboard_routes", "loopback_only"]

_encode = msgspec.json.Encoder().encode
_JSON = "application/json"

# Decides whether a request may read the ledger's views: None lets it, a Response refuses it.
Guard = Callable[[Request], Awaitable[Response | None]]
View = Callable[[DashboardQuery, Request], bytes | None]


def error_response(status: int, message: str, code: str) -> Response:
    kind = "api_error" if status >= 500 else "invalid_request_error"
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(_encode(body), status, media_type=_JSON)


def _limit(request: Request, name: str, default: int, most: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise QueryError(f"{name}={text!r} is not a whole number from 1 to {most}")
    return int(text)


class _Views:
    """The JSON endpoints over one ledger."""

    def __init__(self, ledger: Ledger, zone: tzinfo, guard: Guard | None) -> None:
        self.ledger = ledger
        self.zone = zone
        self.guard = guard
        self._catalog: tuple[int, Catalog] | None = None
        self._catalog_lock = threading.Lock()

    def catalog(self) -> Catalog:
        """The ledger's sources, years and providers, read again only when the count of
        events changed (a new source, model or year comes with new events)."""
        count = self.ledger.count()
        with self._catalog_lock:
            if self._catalog is not None and self._catalog[0] == count:
                return self._catalog[1]
        known = read_catalog(self.ledger)
        with self._catalog_lock:
            self._catalog = (count, known)
        return known

    def endpoint(
        self, produce: View, extra: tuple[str, ...] = ()
    ) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            if self.guard is not None:
                refused = await self.guard(request)
                if refused is not None:
                    return refused
            params = {name: request.query_params.getlist(name) for name in request.query_params}
            try:
                query = parse_query(params, self.zone, extra=extra)
                body = await run_in_threadpool(produce, query, request)
            except QueryError as exc:
                return error_response(400, str(exc), "bad_query")
            if body is None:
                return error_response(404, f"nothing at {request.url.path}", "not_found")
            return Response(body, media_type=_JSON, headers={"cache-control": "no-store"})

        return answer

    # -- the views -----------------------------------------------------------------------------

    def graph(self, query: DashboardQuery, request: Request) -> bytes:
        return encode_graph(build_graph(self.ledger, query, catalog=self.catalog()))

    def day(self, query: DashboardQuery, request: Request) -> bytes | None:
        day = parse_day(str(request.path_params["day"]), "day")
        return views.day_json(self.ledger, query, day, self.catalog())

    def daily(self, query: DashboardQuery, request: Request) -> bytes:
        group_by = request.query_params.get("groupBy") or None
        if group_by is not None and group_by not in GROUP_BY_CHOICES:
            choices = ", ".join(sorted(GROUP_BY_CHOICES))
            raise QueryError(f"groupBy={group_by!r}: use one of {choices}")
        return views.daily_json(self.ledger, query, group_by)

    def models(self, query: DashboardQuery, request: Request) -> bytes:
        return views.models_json(self.ledger, query)

    def sessions(self, query: DashboardQuery, request: Request) -> bytes:
        limit = _limit(request, "limit", views.SESSION_ROWS, 10_000)
        return views.sessions_json(self.ledger, query, limit)

    def cache(self, query: DashboardQuery, request: Request) -> bytes:
        return views.cache_json(self.ledger, query)

    def unpriced(self, query: DashboardQuery, request: Request) -> bytes:
        return views.unpriced_json(self.ledger, query)

    def top(self, query: DashboardQuery, request: Request) -> bytes:
        by = request.query_params.get("by", "")
        if by not in views.TOP_DIMENSIONS:
            raise QueryError(f"by={by!r}: use one of {', '.join(views.TOP_DIMENSIONS)}")
        limit = _limit(request, "limit", views.TOP_ROWS, 1_000)
        return views.top_json(self.ledger, query, by, limit)


_LOOPBACK = ("127.", "::1", "::ffff:127.")


async def loopback_only(request: Request) -> Response | None:
    """A guard for a server others may reach (the gateway): the ledger's views answer only
    clients on this machine, as nothing yet tells one user's data from another's."""
    host = request.client.host if request.client else ""
    if host.startswith(_LOOPBACK):
        return None
    return error_response(
        403,
        "the dashboard's data is served only to clients on this machine (127.0.0.1) until "
        "per-user access to it exists; open the dashboard there, or use llmledger dashboard",
        "dashboard_local_only",
    )


def _first_graph(request: Request, zone: tzinfo, this_year: int) -> str | None:
    """The graph view the page asks for first (app.js: the URL's window, this year by
    default), so the page can start loading it before its scripts run."""
    params = {name: request.query_params.getlist(name)[:1] for name in request.query_params}
    try:
        query = parse_query(params, zone)
    except QueryError:
        return None
    if query.year is None:
        query = query.for_year(this_year)
    return f"graph?{query.canonical()}"


def dashboard_routes(
    ledger: Ledger,
    *,
    admin: bool = False,
    usage_meter: bool = False,
    zone: tzinfo | None = None,
    guard: Guard | None = None,
) -> list[BaseRoute]:
    """The dashboard's routes over ``ledger``.

    ``admin``: the operators' views (top users, keys, accounts, orgs). ``usage_meter``: the
    page loads ``/static/meter.js``, which shows the caller's meter from
    ``/api/account/usage`` (hidden while that answers 404). ``zone``: the default time zone
    (the machine's). ``guard``: asked before every JSON view (the page and assets are public).
    """
    default_zone = zone or resolve_zone(None)
    handlers = _Views(ledger, default_zone, guard)

    async def page(request: Request) -> Response:
        now = today(default_zone)
        config = PageConfig(
            version=__version__,
            default_timezone=zone_name(default_zone),
            today=now.isoformat(),
            admin=admin,
            usage_meter=usage_meter,
        )
        html, policy = render_page(config, preload=_first_graph(request, default_zone, now.year))
        return HTMLResponse(
            html,
            headers={
                "content-security-policy": policy,
                "cache-control": "no-store",
                "x-content-type-options": "nosniff",
                "referrer-policy": "no-referrer",
            },
        )

    api = "/api/dashboard"
    routes: list[BaseRoute] = [
        Route("/", page, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
        Route(f"{api}/graph", handlers.endpoint(handlers.graph), methods=["GET"]),
        Route(f"{api}/day/{{day}}", handlers.endpoint(handlers.day), methods=["GET"]),
        Route(f"{api}/daily", handlers.endpoint(handlers.daily, ("groupBy",)), methods=["GET"]),
        Route(f"{api}/models", handlers.endpoint(handlers.models), methods=["GET"]),
        Route(f"{api}/sessions", handlers.endpoint(handlers.sessions, ("limit",)), methods=["GET"]),
        Route(f"{api}/cache", handlers.endpoint(handlers.cache), methods=["GET"]),
        Route(f"{api}/unpriced", handlers.endpoint(handlers.unpriced), methods=["GET"]),
    ]
    if admin:
        top = handlers.endpoint(handlers.top, ("by", "limit"))
        routes.append(Route(f"{api}/admin/top", top, methods=["GET"]))
    return routes


def create_dashboard_app(
    ledger: Ledger,
    *,
    admin: bool = False,
    usage_meter: bool = False,
    zone: tzinfo | None = None,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    """The dashboard on its own, as ``llmledger dashboard`` serves it (see
    ``dashboard_routes``); errors are JSON like the views'."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "not_found" if exc.status_code == 404 else "bad_request"
        if exc.status_code == 405:
            code = "method_not_allowed"
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return error_response(exc.status_code, message, code)

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response(500, "the dashboard failed to answer this request", "internal_error")

    return Starlette(
        routes=dashboard_routes(ledger, admin=admin, usage_meter=usage_meter, zone=zone),
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )

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
- ``access``: whose data the caller sees (``{"user": …, "admin": …}``)
- ``admin/top?by=user|api_key|account|org``: the operators' top lists (admin access only)
- ``admin/upstreams``: each upstream account's health (the gateway's, admin access only)
- ``limit-windows``: each coding agent's latest official usage-limit windows, and an estimate
  (``official: false``) for the agents active without one (``tz`` only; as ``llmledger
  quota``): this machine's agents, so on the gateway the admin token's only

Who sees what: ``llmledger dashboard`` serves one person's ledger to this machine, whole (and
the operators' lists with ``--admin``). The gateway passes a ``guard`` that names the caller
with the usage API's credentials (gateway/dashboard_access.py): a user's views hold their own
events only, the admin token sees the whole ledger and the operators' views.

Every read goes through the Ledger, off the event loop. A bad parameter is a 400 JSON error
naming it.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
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
from llmledger.web.page import STATIC_DIR, PageConfig, render_page, render_test_page
from llmledger.web.query import DashboardQuery, QueryError, parse_day, parse_query

__all__ = ["Access", "Guard", "create_dashboard_app", "dashboard_routes", "error_response"]

_encode = msgspec.json.Encoder().encode
_JSON = "application/json"
_CATALOGS = 256  # per-user catalogs kept


@dataclass(frozen=True)
class Access:
    """Whose events a request may read: ``user_id``'s only, or (None) the whole ledger;
    ``admin``: the operators' views too."""

    user_id: str | None = None
    admin: bool = False


# Names a request's access, or refuses it with a Response (401/403 JSON).
Guard = Callable[[Request], Awaitable[Access | Response]]
View = Callable[[DashboardQuery, Request], bytes | None]
# Each upstream account's health, as JSON-ready rows (the gateway's; admin only).
UpstreamHealth = Callable[[], object]


def error_response(status: int, message: str, code: str) -> Response:
    kind = "api_error" if status >= 500 else "invalid_request_error"
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(_encode(body), status, media_type=_JSON)


def _admin_required() -> Response:
    return error_response(403, "the operators' views need the admin token", "admin_required")


def _limit(request: Request, name: str, default: int, most: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise QueryError(f"{name}={text!r} is not a whole number from 1 to {most}")
    return int(text)


class _Views:
    """The JSON endpoints over one ledger."""

    def __init__(self, ledger: Ledger, zone: tzinfo, guard: Guard | None, local: Access) -> None:
        self.ledger = ledger
        self.zone = zone
        self.guard = guard
        self.local = local
        self._catalogs: dict[tuple[str, ...], tuple[int, Catalog]] = {}
        self._catalog_lock = threading.Lock()

    def catalog(self, users: tuple[str, ...] = ()) -> Catalog:
        """The sources, years and providers of the ledger (or of ``users``' events), read
        again only when the count of events changed (a new source, model or year comes with
        new events)."""
        count = self.ledger.count()
        with self._catalog_lock:
            kept = self._catalogs.get(users)
            if kept is not None and kept[0] == count:
                return kept[1]
        known = read_catalog(self.ledger, users)
        with self._catalog_lock:
            if len(self._catalogs) >= _CATALOGS:
                self._catalogs.clear()
            self._catalogs[users] = (count, known)
        return known

    async def access(self, request: Request) -> Access | Response:
        return self.local if self.guard is None else await self.guard(request)

    def endpoint(
        self, produce: View, extra: tuple[str, ...] = (), *, admin: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            access = await self.access(request)
            if isinstance(access, Response):
                return access
            if admin and not access.admin:
                return _admin_required()
            params = {name: request.query_params.getlist(name) for name in request.query_params}
            try:
                query = parse_query(params, self.zone, extra=extra)
                if access.user_id is not None:
                    query = query.for_users((access.user_id,))
                body = await run_in_threadpool(produce, query, request)
            except QueryError as exc:
                return error_response(400, str(exc), "bad_query")
            if body is None:
                return error_response(404, f"nothing at {request.url.path}", "not_found")
            return Response(body, media_type=_JSON, headers={"cache-control": "no-store"})

        return answer

    # -- the views -----------------------------------------------------------------------------

    def graph(self, query: DashboardQuery, request: Request) -> bytes:
        return encode_graph(build_graph(self.ledger, query, catalog=self.catalog(query.users)))

    def day(self, query: DashboardQuery, request: Request) -> bytes | None:
        day = parse_day(str(request.path_params["day"]), "day")
        return views.day_json(self.ledger, query, day, self.catalog(query.users))

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

    def limit_windows(self, query: DashboardQuery, request: Request) -> bytes:
        return views.limit_windows_json(self.ledger, query.zone)

    def top(self, query: DashboardQuery, request: Request) -> bytes:
        by = request.query_params.get("by", "")
        if by not in views.TOP_DIMENSIONS:
            raise QueryError(f"by={by!r}: use one of {', '.join(views.TOP_DIMENSIONS)}")
        limit = _limit(request, "limit", views.TOP_ROWS, 1_000)
        return views.top_json(self.ledger, query, by, limit)


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


_PAGE_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def dashboard_routes(
    ledger: Ledger,
    *,
    admin: bool = False,
    usage_meter: bool = False,
    zone: tzinfo | None = None,
    guard: Guard | None = None,
    upstream_health: UpstreamHealth | None = None,
    test_page: bool = False,
) -> list[BaseRoute]:
    """The dashboard's routes over ``ledger``.

    ``admin``: without a guard, the operators' views (top users, keys, accounts, orgs).
    ``usage_meter``: the page loads ``/static/meter.js``, which shows the caller's meter from
    ``/api/account/usage`` (hidden while that answers 404). ``zone``: the default time zone
    (the machine's). ``guard``: asked before every JSON view who calls (the page and assets
    are public); the page then asks for a ledger key or the admin token and sends it.
    ``upstream_health``: the gateway's accounts (``admin/upstreams``). ``test_page``:
    ``/test_token_usage.html``, the meter beside the simulate endpoint's buttons.
    """
    default_zone = zone or resolve_zone(None)
    local = Access(admin=admin)
    handlers = _Views(ledger, default_zone, guard, local)
    sign_in = guard is not None

    def config(now_iso: str) -> PageConfig:
        return PageConfig(
            version=__version__,
            default_timezone=zone_name(default_zone),
            today=now_iso,
            admin=admin and not sign_in,
            usage_meter=usage_meter,
            sign_in=sign_in,
            upstream_health=upstream_health is not None,
        )

    async def page(request: Request) -> Response:
        now = today(default_zone)
        # A signed-in page sends its credentials, which a preloaded request would not.
        preload = None if sign_in else _first_graph(request, default_zone, now.year)
        html, policy = render_page(config(now.isoformat()), preload=preload)
        return HTMLResponse(html, headers={"content-security-policy": policy, **_PAGE_HEADERS})

    async def simulate_page(request: Request) -> Response:
        html, policy = render_test_page(config(today(default_zone).isoformat()))
        return HTMLResponse(html, headers={"content-security-policy": policy, **_PAGE_HEADERS})

    async def whoami(request: Request) -> Response:
        access = await handlers.access(request)
        if isinstance(access, Response):
            return access
        body = {"user": access.user_id, "admin": access.admin, "signIn": sign_in}
        return Response(_encode(body), media_type=_JSON, headers={"cache-control": "no-store"})

    api = "/api/dashboard"
    routes: list[BaseRoute] = [
        Route("/", page, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
        Route(f"{api}/access", whoami, methods=["GET"]),
        Route(f"{api}/graph", handlers.endpoint(handlers.graph), methods=["GET"]),
        Route(f"{api}/day/{{day}}", handlers.endpoint(handlers.day), methods=["GET"]),
        Route(f"{api}/daily", handlers.endpoint(handlers.daily, ("groupBy",)), methods=["GET"]),
        Route(f"{api}/models", handlers.endpoint(handlers.models), methods=["GET"]),
        Route(f"{api}/sessions", handlers.endpoint(handlers.sessions, ("limit",)), methods=["GET"]),
        Route(f"{api}/cache", handlers.endpoint(handlers.cache), methods=["GET"]),
        Route(f"{api}/unpriced", handlers.endpoint(handlers.unpriced), methods=["GET"]),
        # The operator's machine's agents: a gateway's users do not see them.
        Route(
            f"{api}/limit-windows",
            handlers.endpoint(handlers.limit_windows, admin=sign_in),
            methods=["GET"],
        ),
    ]
    if admin or sign_in:
        top = handlers.endpoint(handlers.top, ("by", "limit"), admin=True)
        routes.append(Route(f"{api}/admin/top", top, methods=["GET"]))
    if upstream_health is not None:
        read_health = upstream_health

        async def upstreams(request: Request) -> Response:
            # On the event loop: the gateway's account state lives there.
            access = await handlers.access(request)
            if isinstance(access, Response):
                return access
            if not access.admin:
                return _admin_required()
            body = _encode(read_health())
            return Response(body, media_type=_JSON, headers={"cache-control": "no-store"})

        routes.append(Route(f"{api}/admin/upstreams", upstreams, methods=["GET"]))
    if test_page:
        routes.append(Route("/test_token_usage.html", simulate_page, methods=["GET"]))
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

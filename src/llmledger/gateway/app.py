"""The gateway application: its state (router, keys, pools, metrics) and its routes.

Routes: ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/responses``,
``/v1/embeddings``, ``/v1/messages`` (metered, see ``proxy.py``); ``GET /v1/models``;
``GET /healthz``; ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

import msgspec

from llmledger.events import UsageEvent
from llmledger.gateway.accesslog import AccessLog
from llmledger.gateway.client import Pool
from llmledger.gateway.config import GatewayConfig
from llmledger.gateway.endpoints import ENDPOINTS, find_endpoint
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.http import HTTPConnection, Request
from llmledger.gateway.keys import Identity, KeyRing
from llmledger.gateway.metering import RequestContext
from llmledger.gateway.metrics import GatewayMetrics
from llmledger.gateway.models import list_models
from llmledger.gateway.proxy import proxy_request
from llmledger.gateway.upstreams import Router, UpstreamState, utc_day
from llmledger.ledger import Ledger
from llmledger.store.keys import KeyStore
from llmledger.store.query import EventFilter

__all__ = ["Gateway"]

log = logging.getLogger("llmledger.gateway")
_encode = msgspec.json.Encoder().encode
_MIN_RELOAD_GAP = 0.05  # seconds between two reloads of the keys triggered by unknown keys
_API_PATHS = frozenset({*ENDPOINTS, *(p.removeprefix("/v1") for p in ENDPOINTS)})


class Gateway:
    def __init__(self, config: GatewayConfig, ledger: Ledger, access_log: AccessLog) -> None:
        self.config = config
        self.settings = config.settings
        self.ledger = ledger
        self.access_log = access_log
        self.router = Router([UpstreamState.build(u) for u in config.upstreams])
        self.keys = KeyRing(KeyStore(ledger.store).active)
        self.metrics = GatewayMetrics(self.settings.metrics_label_limit)
        self.pools: dict[str, Pool] = {}
        self.in_flight = 0
        self.ledger_ok = True
        self._reloading: asyncio.Future[int] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._register_gauges()

    # -- lifecycle -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Blocking startup work: load keys, seed today's account counters, warm the prices."""
        self.keys.reload()
        today = utc_day()
        since_us = today * 86_400 * 1_000_000
        rows = self.ledger.store.aggregate(
            EventFilter(since_us=since_us, equals={"source": ("proxy",)}), ["account"]
        )
        self.router.seed(
            {str(r.key["account"]): r.totals.requests for r in rows if r.key["account"]}, today
        )
        book = self.ledger.prices
        for upstream in self.config.upstreams:
            for route in upstream.models:
                if not route.is_glob:
                    book.price_event(UsageEvent(model=route.target or route.pattern))
        book.price_event(UsageEvent(model="gpt-4o-mini"))  # builds the name index

    async def start(self) -> None:
        for upstream in self.config.upstreams:
            self.pools[upstream.name] = Pool(
                upstream.base_url, connect_timeout=upstream.connect_timeout
            )
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_keys())

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        for pool in self.pools.values():
            pool.close()
        self.access_log.flush()

    async def _refresh_keys(self) -> None:
        while True:
            await asyncio.sleep(self.settings.key_refresh_seconds)
            try:
                await self._reload_keys()
            except Exception:  # a locked or broken database: keep the keys we have
                log.exception("gateway: cannot reload ledger keys")

    def _reload_keys(self) -> asyncio.Future[int]:
        """One reload at a time, in a worker thread; concurrent callers share it."""
        if self._reloading is None or self._reloading.done():
            loop = asyncio.get_running_loop()
            self._reloading = loop.run_in_executor(None, self.keys.reload)
        return self._reloading

    async def _keys_read_after(self, moment: float) -> None:
        """Wait until the keys in memory were read from the store after ``moment``: a key
        created a moment ago is found, and misses cost one shared reload, not one each."""
        while self.keys.loaded_from < moment:
            if self._reloading is None or self._reloading.done():
                gap = self.keys.finished_at + _MIN_RELOAD_GAP - self.keys.clock()
                if gap > 0:
                    await asyncio.sleep(gap)
                    continue
            await asyncio.shield(self._reload_keys())

    # -- helpers for the proxy -----------------------------------------------------------------

    async def authenticate(self, req: Request, protocol: str) -> Identity:
        headers = req.headers
        token = headers.get("x-api-key")
        if not token:
            auth = headers.get("authorization", "")
            scheme, _, value = auth.partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else ""
        if not token:
            raise GatewayError(
                401,
                "missing ledger key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>' "
                "(create one with 'llmledger keys create --user USER')",
                "missing_api_key",
            )
        identity = self.keys.lookup(token)
        if identity is None:
            await self._keys_read_after(self.keys.clock())
            identity = self.keys.lookup(token)
        if identity is None:
            raise GatewayError(401, "invalid or revoked ledger key", "invalid_api_key")
        return identity

    async def commit(self, event: UsageEvent) -> bool:
        """Submit to the ledger's writer and wait for the group commit that holds the event."""
        try:
            await asyncio.wrap_future(self.ledger.submit(event))
        except Exception as exc:
            self.ledger_ok = False
            log.error("gateway: usage of request %s could not be recorded: %s", event.id, exc)
            return False
        self.ledger_ok = True
        return True

    def finished(self, ctx: RequestContext, event: UsageEvent, status: int) -> None:
        """Metrics and the access log line of a proxied request."""
        total = time.perf_counter() - ctx.started
        self.metrics.record(event, ctx.endpoint.name, ctx.upstream)
        if ctx.upstream is not None and ctx.upstream_seconds:
            self.metrics.upstream_latency.observe(ctx.upstream_seconds, (ctx.upstream,))
            self.metrics.overhead.observe(max(total - ctx.upstream_seconds, 0.0))
        if self.access_log.enabled:
            self.access_log.write(
                {
                    "ts": event.ts.isoformat(),
                    "request_id": ctx.request_id,
                    "endpoint": ctx.endpoint.name,
                    "status": status,
                    "ms": round(total * 1000, 3),
                    "upstream_ms": round(ctx.upstream_seconds * 1000, 3),
                    "model": event.model,
                    "account": event.account,
                    "user": event.user_id,
                    "org": event.org_id,
                    "key": event.api_key_id,
                    "session": event.session_id,
                    "request_type": event.request_type,
                    "stream": ctx.stream,
                    "input_tokens": event.input_tokens,
                    "cache_read_tokens": event.cache_read_tokens,
                    "cache_write_tokens": event.cache_creation_tokens,
                    "output_tokens": event.output_tokens,
                    "cost": None if event.cost is None else str(event.cost),
                    "estimated": event.estimated,
                }
            )

    # -- routes --------------------------------------------------------------------------------

    async def handle(self, conn: HTTPConnection, req: Request) -> None:
        path, method = req.path, req.method
        endpoint = find_endpoint(path) if method == "POST" else None
        protocol = endpoint.protocol if endpoint else "openai"
        try:
            if endpoint is not None:
                self.in_flight += 1
                try:
                    await proxy_request(self, conn, req, endpoint)
                finally:
                    self.in_flight -= 1
            elif method == "GET" and path == "/healthz":
                self._health(conn)
            elif method == "GET" and path == "/metrics":
                conn.respond(200, [], self.metrics.render(), "text/plain; version=0.0.4")
            elif method == "GET" and path.rstrip("/") in ("/v1/models", "/models"):
                await self.authenticate(req, "openai")
                anthropic = "anthropic-version" in req.headers
                conn.respond(200, [], await list_models(self, anthropic))
            elif path.rstrip("/") in _API_PATHS or path in ("/healthz", "/metrics"):
                raise GatewayError(405, f"{method} is not allowed on {path}", "method_not_allowed")
            else:
                raise GatewayError(404, f"no such endpoint: {method} {path}", "not_found")
        except GatewayError as exc:
            self.metrics.rejected.inc((exc.code,))
            conn.respond(exc.status, [], exc.body(protocol))
            if self.access_log.enabled:
                self.access_log.write(
                    {
                        "ts": datetime.now(timezone.utc).isoformat(),
                        "method": method,
                        "path": path[:200],
                        "status": exc.status,
                        "error": exc.code,
                    }
                )

    def _health(self, conn: HTTPConnection) -> None:
        writer = self.ledger._writer
        body = {
            "status": "ok" if self.ledger_ok else "ledger_unavailable",
            "in_flight": self.in_flight,
            "upstreams": [u.name for u in self.router.upstreams],
            "keys": len(self.keys),
            "ledger": {
                "pending": writer.pending if writer else 0,
                "written": writer.written if writer else 0,
                "failed": writer.failed if writer else 0,
            },
        }
        conn.respond(200 if self.ledger_ok else 503, [], _encode(body))

    def _register_gauges(self) -> None:
        def accounts() -> list[tuple[dict[str, str], float]]:
            today = utc_day()
            out: list[tuple[dict[str, str], float]] = []
            for account in self.router.accounts():
                account.roll(today)
                out.append(({"account": account.label}, account.requests_today))
            return out

        def caps() -> list[tuple[dict[str, str], float]]:
            return [
                ({"account": a.label}, a.cap) for a in self.router.accounts() if a.cap is not None
            ]

        def pending() -> list[tuple[dict[str, str], float]]:
            writer = self.ledger._writer
            return [({}, writer.pending if writer else 0)]

        self.metrics.gauge(
            "llmledger_gateway_account_requests_today",
            "Requests sent to each upstream account today (UTC), as counted against caps.",
            accounts,
        )
        self.metrics.gauge(
            "llmledger_gateway_account_daily_cap", "Daily request cap of each account.", caps
        )
        self.metrics.gauge(
            "llmledger_gateway_in_flight",
            "Requests being handled.",
            lambda: [({}, self.in_flight)],
        )
        self.metrics.gauge(
            "llmledger_gateway_ledger_pending", "Usage events waiting for the writer.", pending
        )

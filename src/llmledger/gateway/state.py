"""The gateway's state, shared by its routes: accounts, keys, the upstream transport, the
ledger recorder, metrics and the access log; its startup and shutdown work."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

from llmledger.events import UsageEvent
from llmledger.gateway.accesslog import AccessLog
from llmledger.gateway.asgi import Scope, Send, send_bytes
from llmledger.gateway.config import GatewayConfig, UpstreamConfig
from llmledger.gateway.endpoints import Endpoint
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.keys import Identity, KeyRing
from llmledger.gateway.metering import RequestContext
from llmledger.gateway.metrics import GatewayMetrics
from llmledger.gateway.quota_gate import BudgetExceeded, QuotaGate, subjects_of
from llmledger.gateway.recording import Recorder
from llmledger.gateway.redis_gate import RedisGate
from llmledger.gateway.transport import Transport
from llmledger.gateway.upstreams import Router, UpstreamState, utc_day
from llmledger.gateway.usage_feed import FeedMessage, UsageFeed
from llmledger.ledger import Ledger
from llmledger.query import EventFilter
from llmledger.quota.gateway_hosts import Announced, announce_gateway

__all__ = ["Gateway"]

log = logging.getLogger("llmledger.gateway")
_MIN_RELOAD_GAP = 0.05  # seconds between two reloads of the keys triggered by unknown keys


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        ledger: Ledger,
        access_log: AccessLog,
        transport: Transport,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.ledger = ledger
        self.access_log = access_log
        self.transport = transport
        self.router = Router([UpstreamState.build(u) for u in config.upstreams])
        self.keys = KeyRing(ledger.keys.active)
        self.metrics = GatewayMetrics(
            self.settings.metrics_label_limit, user_labels=self.settings.metrics_user_labels
        )
        self.recorder = Recorder(ledger)
        self.feed = UsageFeed()  # usage changes, for the usage API's live stream
        self.recorder.on_commit = self._committed
        self.quota: QuotaGate | RedisGate | None = None  # plans and budgets, when configured
        if config.quotas:
            gate = RedisGate if RedisGate.wanted(ledger) else QuotaGate
            self.quota = gate(ledger, self.feed, config.server.reserve_output_tokens)
            self.recorder.settle = self.quota.settle
        self.announced: Announced | None = None  # this gateway, as other hosts see it
        self.in_flight = 0
        self.prepared = False
        self._urls: dict[tuple[str, str], str] = {}
        self._reloading: asyncio.Future[int] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._register_gauges()

    # -- lifecycle -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Blocking startup work: load keys, seed today's account counters, warm the prices."""
        if self.quota is not None and self.announced is None:  # refused beside another host
            redis = isinstance(self.quota, RedisGate)
            self.announced = announce_gateway(self.ledger, "redis" if redis else "ledger")
        self.keys.reload()
        today = utc_day()
        since_us = today * 86_400 * 1_000_000
        rows = self.ledger.aggregate(
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
        self.prepared = True

    async def start(self) -> None:
        if not self.prepared:
            await asyncio.get_running_loop().run_in_executor(None, self.prepare)
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_keys())
        if self.quota is not None:
            self.quota.start()

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        await self.transport.close()
        await self.recorder.close()
        if self.quota is not None:
            await self.quota.close()
        if self.announced is not None:
            self.announced.close()
        self.access_log.flush()

    def _committed(self, event: UsageEvent) -> None:
        if self.feed.listening:
            subjects = subjects_of(event.user_id, event.org_id, event.api_key_id)
            self.feed.publish(FeedMessage("usage", subjects))

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

    # -- helpers for the routes ----------------------------------------------------------------

    async def authenticate(self, headers: dict[str, str]) -> Identity:
        """The caller's identity from ``Authorization: Bearer`` or ``x-api-key``; 401 else."""
        token = headers.get("x-api-key")
        if not token:
            scheme, _, value = headers.get("authorization", "").partition(" ")
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

    def upstream_url(self, config: UpstreamConfig, endpoint: Endpoint, query: bytes) -> str:
        key = (config.name, endpoint.name)
        url = self._urls.get(key)
        if url is None:
            base_path = urlsplit(config.base_url).path.rstrip("/")
            url = self._urls[key] = config.base_url + endpoint.upstream_path(base_path)
        return url + "?" + query.decode("latin-1") if query else url

    async def reject(self, send: Send, scope: Scope, error: GatewayError, protocol: str) -> None:
        """Answer a request the gateway refused itself, count it and log it."""
        self.metrics.rejected.inc((error.code,))
        headers = [(b"connection", b"close")] if error.status in (408, 413) else []
        if isinstance(error, BudgetExceeded):
            headers.extend(error.headers)
        await send_bytes(send, error.status, error.body(protocol), headers)
        if self.access_log.enabled:
            self.access_log.write(
                {
                    "ts": datetime.now(timezone.utc).isoformat(),
                    "method": scope.get("method"),
                    "path": str(scope.get("path", ""))[:200],
                    "status": error.status,
                    "error": error.code,
                }
            )

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

    def health(self) -> tuple[int, dict[str, object]]:
        writer = self.ledger.writer_if_started
        ok = self.recorder.ok
        body: dict[str, object] = {
            "status": "ok" if ok else "ledger_unavailable",
            "in_flight": self.in_flight,
            "upstreams": [u.name for u in self.router.upstreams],
            "keys": len(self.keys),
            "ledger": {
                "pending": writer.pending if writer else 0,
                "written": writer.written if writer else 0,
                "failed": writer.failed if writer else 0,
                "held": len(self.recorder.held),
            },
        }
        if not ok:
            body["error"] = self.recorder.last_error
        return (200 if ok else 503), body

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
            writer = self.ledger.writer_if_started
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
        self.metrics.gauge(
            "llmledger_gateway_ledger_ok",
            "1 while usage can be recorded, 0 while the gateway fails closed.",
            lambda: [({}, 1 if self.recorder.ok else 0)],
        )

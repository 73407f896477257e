"""Plans and budgets enforced with counters in Redis (``[quotas] redis``): the gate gateways
on several hosts use, with ``QuotaGate``'s interface (admit / settle / release / start / close).

- ``admit``: the request's limits and the ledger's counts of their windows are read (one read
  transaction, no lock), then ONE Lua script decides and holds the bound on every limit
  (quota/redis_counters.py); a refusal is the same 429 ``budget_exceeded`` as ``QuotaGate``'s.
- ``settle``: the reservation is marked settling in Redis, the event written to the ledger by
  the normal path (the writer's group commit, as without quotas: settles of many gateways do
  not queue on the ledger's quota lock), its real usage added in Redis, then the alerts of its
  limits checked against the ledger.
- Redis down: a request is refused with 503 ``quota_unavailable`` (fail closed: a budget is
  never bypassed); a settle still writes its event (Redis catches up by reconciliation).
- Every ``[quotas] redis_reconcile_seconds`` (and at start) the counters are checked against
  the ledger, the truth; a Redis that lost its data is seeded again from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from llmledger.events import UsageEvent
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.keys import Identity
from llmledger.gateway.quota_gate import BudgetExceeded, publish_alert, request_json
from llmledger.gateway.usage_feed import CounterWatch, UsageFeed
from llmledger.ledger import Ledger
from llmledger.quota.admission import Estimate, Reservation
from llmledger.quota.alerts import AlertEvent
from llmledger.quota.limits import Subject
from llmledger.quota.records import CounterRange, Counts
from llmledger.quota.redis_counters import (
    CountersUnavailable,
    Plan,
    RedisCounters,
    connect,
    ledger_counts,
    read_plan,
    redis_url,
)
from llmledger.request_estimate import request_bound

__all__ = ["RedisGate"]

log = logging.getLogger("llmledger.gateway")
_CLOSE_SECONDS = 2.0


class RedisGate:
    def __init__(self, ledger: Ledger, feed: UsageFeed, reserve_output_tokens: int) -> None:
        self.ledger = ledger
        self.book = ledger.quotas
        self.feed = feed
        self.reserve_output_tokens = reserve_output_tokens
        settings = self.book.quotas.settings
        url = redis_url(self.book.quotas, os.environ)
        assert url is not None
        self.webhook = settings.alert_webhook
        self.interval = settings.redis_reconcile_seconds
        client = connect(url)  # LedgerError (one line): no package, no Redis
        self.counters = RedisCounters(client, settings.redis_prefix, self.book.quotas, url)
        self.executor = ThreadPoolExecutor(4, thread_name_prefix="llmledger-quota")
        self.in_flight = 0
        self._open: dict[str, Reservation] = {}  # admitted, not yet settled or released
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe = self.book.subscribe(self._alerted)

    @staticmethod
    def wanted(ledger: Ledger) -> bool:
        """Whether the config (or ``LLMLEDGER_QUOTA_REDIS``) puts the counters in Redis."""
        return redis_url(ledger.quotas.quotas, os.environ) is not None

    # -- the proxy's cycle ---------------------------------------------------------------------

    async def admit(
        self, api: str, body: bytes, identity: Identity, model: str, request_id: str
    ) -> Reservation:
        """Reserve the request's bound, or raise ``BudgetExceeded`` (before any upstream call);
        503 ``quota_unavailable`` when Redis cannot be reached."""
        who = Subject(identity.user_id, identity.org_id, identity.key_id, model)
        now = self.book.now()
        loop = asyncio.get_running_loop()
        # The estimate (a tokenizer) and the ledger read block: a worker thread.
        bound, plan = await loop.run_in_executor(self.executor, self._prepare, api, body, who, now)
        try:
            admission = await self.counters.reserve(
                request_id, who, plan, bound, now, self.book.reservation_expiry(now)
            )
        except CountersUnavailable as exc:
            log.error("gateway: %s", exc)
            raise GatewayError(503, str(exc), "quota_unavailable") from None
        if admission.refusal is not None:
            raise BudgetExceeded(admission.refusal)
        reservation = admission.reservation
        assert reservation is not None
        self.in_flight += 1
        self._open[request_id] = reservation
        return reservation

    def _prepare(self, api: str, body: bytes, who: Subject, now: datetime) -> tuple[Estimate, Plan]:
        """The request's capped bound, its limits and the ledger's counts of them."""
        model = who.model or ""
        bound = request_bound(api, request_json(body), model, self.reserve_output_tokens)
        estimate = self.book.estimate(model, bound.input_tokens, bound.max_output_tokens)
        plan = read_plan(self.ledger, self.book.quotas, who, now)
        return self.book.capped(estimate), plan

    async def settle(self, event: UsageEvent, reservation: Reservation) -> None:
        """Write ``event`` to the ledger, apply its usage to the Redis counters, check alerts."""
        self.in_flight = max(0, self.in_flight - 1)
        self._open.pop(reservation.request_id, None)
        try:
            await self.counters.settling(reservation.request_id, self.book.now())
        except CountersUnavailable as exc:  # the event is written all the same
            log.warning("gateway: %s", exc)
        # The writer's group commit: many gateways' settles never queue on one lock.
        await asyncio.wrap_future(self.ledger.submit(event))
        try:
            await self.counters.finish(reservation, event)
        except CountersUnavailable as exc:  # its hold expires; reconciliation counts it
            log.warning("gateway: %s", exc)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.executor, self.book.check_alerts, Subject.of(event))
        except Exception:  # the usage is recorded: a failed alert check must not undo that
            log.exception("gateway: cannot check the quota alerts of %s", event.id)

    async def release(self, request_id: str) -> None:
        """Drop a request's holds (it ended without an event to settle with)."""
        self.in_flight = max(0, self.in_flight - 1)
        reservation = self._open.pop(request_id, None)
        if reservation is None:
            return
        try:
            await self.counters.release(reservation)
        except CountersUnavailable as exc:  # the holds expire by themselves
            log.warning("gateway: cannot release the reservation of %s: %s", request_id, exc)

    # -- background work -----------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        watch = CounterWatch(self.feed, self.book.month_counts)
        self._tasks = [loop.create_task(self._reconcile_loop()), loop.create_task(watch.run())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._unsubscribe()
        with contextlib.suppress(Exception):  # bounded: a connection cut mid-command can hang it
            await asyncio.wait_for(self.counters.client.aclose(), _CLOSE_SECONDS)
        self.executor.shutdown(wait=True)

    async def reconcile(self) -> tuple[int, int, int]:
        """Check every counter in Redis against the ledger now: (corrected, skipped, dropped)."""
        generation, made = await self.counters.ensure_generation()
        if made:
            log.warning(
                "quota counters: Redis had none (new generation %s); seeding them from the ledger",
                generation,
            )
        loop = asyncio.get_running_loop()

        async def read(ranges: list[CounterRange]) -> list[Counts]:
            return await loop.run_in_executor(self.executor, ledger_counts, self.ledger, ranges)

        found = await self.counters.reconcile(read, self.book.now())
        if found[0]:
            log.warning("quota counters: %d corrected from the ledger", found[0])
        return found

    async def _reconcile_loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception as exc:  # Redis or the ledger away: the next round tries again
                log.warning("quota counters: cannot reconcile with the ledger: %s", exc)
            await asyncio.sleep(self.interval)

    # -- alerts --------------------------------------------------------------------------------

    def _alerted(self, event: AlertEvent) -> None:
        publish_alert(self.feed, self.webhook, event)

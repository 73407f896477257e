"""Plans and budgets enforced in the proxy path: reserve before the upstream call, settle after.

Only built when the config has ``[quotas]`` or ``[plans]`` (``Gateway.quota`` is None
otherwise, and the proxy path pays one attribute test).

1. ``admit``: before any upstream byte, the request's bound (estimated prompt + its max output,
   or ``[server] reserve_output_tokens``) is reserved on its user, org, key and model; a hard
   limit with no room answers 429 ``budget_exceeded`` (``BudgetExceeded``, shaped per protocol).
2. ``settle``: the request's event is written and its holds dropped in one transaction; the
   recorder calls it instead of the plain write. Fired and resolved alerts go to the live
   stream (``UsageFeed``) and to ``[quotas] alert_webhook``.

On SQLite both are jobs of the ledger's writer (quota/batching.py): each group commit writes
the waiting events, settles, and admissions together, admissions deciding on an in-memory view
of the counters that the commits keep exact. Other stores reserve and settle one transaction
each (``QuotaBook.check_and_reserve`` / ``settle``) in the gate's worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import msgspec

from llmledger.estimate import estimate_tokens
from llmledger.events import UsageEvent
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.keys import Identity
from llmledger.gateway.usage_feed import CounterWatch, FeedMessage, UsageFeed
from llmledger.ledger import Ledger
from llmledger.quota.admission import Admission, Estimate, Refusal, Reservation
from llmledger.quota.alerts import AlertEvent
from llmledger.quota.batching import AdmitJob, CountersMoved, QuotaBatcher, ReleaseJob, SettleJob
from llmledger.quota.limits import Subject
from llmledger.request_estimate import request_bound

__all__ = ["BudgetExceeded", "QuotaGate", "publish_alert", "request_json", "subjects_of"]

log = logging.getLogger("llmledger.gateway")

EXPIRY_INTERVAL = 60.0  # seconds between two sweeps of expired reservations
_WEBHOOK_TIMEOUT = 5.0

_encode = msgspec.json.Encoder().encode


class BudgetExceeded(GatewayError):
    """A request refused by a hard limit: 429 with the limit, what is used, and the reset."""

    def __init__(self, refusal: Refusal, now: datetime | None = None) -> None:
        super().__init__(429, refusal.message, "budget_exceeded")
        self.refusal = refusal
        moment = now or datetime.now(timezone.utc)
        resets = refusal.resets_at
        self.retry_after = (
            None if resets is None else max(1, int((resets - moment).total_seconds()))
        )

    def body(self, protocol: str = "openai") -> bytes:
        error = dict(self.refusal.error()["error"])
        if protocol == "anthropic":
            return _encode({"type": "error", "error": error})
        return _encode({"error": {**error, "param": None, "code": "budget_exceeded"}})

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.retry_after is None:
            return []
        return [(b"retry-after", str(self.retry_after).encode())]


def subjects_of(user_id: str | None, org_id: str | None, key_id: str | None) -> tuple[str, ...]:
    """The feed subjects a change to these ids concerns."""
    return tuple(Subject(user_id=user_id, org_id=org_id, key_id=key_id).subjects())


def request_json(body: bytes) -> dict[str, object]:
    """A request body's JSON object (empty when it is not one): what its bound is read from."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class QuotaGate:
    def __init__(self, ledger: Ledger, feed: UsageFeed, reserve_output_tokens: int) -> None:
        self.ledger = ledger
        self.book = ledger.quotas
        self.feed = feed
        self.reserve_output_tokens = reserve_output_tokens
        self.webhook = self.book.quotas.settings.alert_webhook
        # Work that waits on the store's lock (the expiry sweep; reservations and settles when
        # the store cannot batch them): threads of their own, never queued behind other
        # blocking work of the event loop's default pool.
        self.executor = ThreadPoolExecutor(4, thread_name_prefix="llmledger-quota")
        self.in_flight = 0  # admitted requests not yet settled or released (a retry: again)
        self.batcher: QuotaBatcher | None = None
        if ledger.batches_quotas:
            self.batcher = QuotaBatcher(ledger, self.book)
            ledger.writer.batcher = self.batcher
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe = self.book.subscribe(self._alerted)

    # -- the proxy's cycle ---------------------------------------------------------------------

    async def admit(
        self, api: str, body: bytes, identity: Identity, model: str, request_id: str
    ) -> Reservation:
        """Reserve the request's bound, or raise ``BudgetExceeded`` (before any upstream call)."""
        who = Subject(identity.user_id, identity.org_id, identity.key_id, model)
        loop = asyncio.get_running_loop()
        if self.batcher is None:
            admission = await loop.run_in_executor(
                self.executor, self._reserve, api, body, who, request_id
            )
        else:
            estimate = self._estimate(api, body, model)
            try:
                # A lone request admits itself (one small transaction on this thread, never
                # waiting); under load admissions queue for the writer's group commits.
                found = None
                if self.in_flight == 0:
                    found = self.batcher.admit_now(who, request_id, estimate)
                if found is None:
                    job = AdmitJob(who, request_id, estimate, loop)
                    self.batcher.submit(job)
                    assert job.waiter is not None
                    found = await job.waiter
                admission = found
            except CountersMoved:  # another process's zone: the book recounts first
                admission = await loop.run_in_executor(
                    self.executor, self._reserve, api, body, who, request_id
                )
        if admission.refusal is not None:
            raise BudgetExceeded(admission.refusal)
        assert admission.reservation is not None
        self.in_flight += 1
        return admission.reservation

    def _estimate(self, api: str, body: bytes, model: str) -> Estimate:
        bound = request_bound(api, request_json(body), model, self.reserve_output_tokens)
        return self.book.estimate(model, bound.input_tokens, bound.max_output_tokens)

    def _reserve(self, api: str, body: bytes, who: Subject, request_id: str) -> Admission:
        estimate = self._estimate(api, body, who.model or "")
        return self.book.check_and_reserve(who, request_id, estimate)

    async def settle(self, event: UsageEvent, reservation: Reservation) -> None:
        """Write ``event`` and drop the reservation's holds in one transaction; its alerts."""
        self.in_flight = max(0, self.in_flight - 1)
        if self.batcher is None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.executor, self.book.settle, reservation, event)
            return
        event.validate()  # a bad event fails its own settle, not its group commit
        settle = SettleJob(event, reservation, asyncio.get_running_loop())
        self.batcher.submit(settle)
        assert settle.waiter is not None
        await settle.waiter

    async def release(self, request_id: str) -> None:
        """Drop a request's holds (it ended without an event to settle with)."""
        self.in_flight = max(0, self.in_flight - 1)
        loop = asyncio.get_running_loop()
        try:
            if self.batcher is None:
                await loop.run_in_executor(self.executor, self.book.release, request_id)
            else:
                release = ReleaseJob(request_id, loop)
                self.batcher.submit(release)
                assert release.waiter is not None
                await release.waiter
        except Exception:  # the holds expire by themselves
            log.exception("gateway: cannot release the reservation of %s", request_id)

    # -- background work -----------------------------------------------------------------------

    def start(self) -> None:
        # The tokenizer loads on first use (~0.5 s of CPU): here, before the server accepts
        # its first connection, not inside a request while other clients' heads wait (408).
        estimate_tokens("warm-up")
        loop = asyncio.get_running_loop()
        # Usage another gateway process (or the CLI) records reaches this one's live streams.
        watch = CounterWatch(self.feed, self.book.month_counts)
        self._tasks = [loop.create_task(self._expire()), loop.create_task(watch.run())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._unsubscribe()
        if self.batcher is not None and self.ledger.writer.batcher is self.batcher:
            self.ledger.flush()
            self.ledger.writer.batcher = None
        self.executor.shutdown(wait=True)

    async def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL)
            try:
                await loop.run_in_executor(self.executor, self.book.expire_reservations)
            except Exception:
                log.exception("gateway: cannot delete expired reservations")

    # -- alerts --------------------------------------------------------------------------------

    def _alerted(self, event: AlertEvent) -> None:
        publish_alert(self.feed, self.webhook, event)


def publish_alert(feed: UsageFeed, webhook: str | None, event: AlertEvent) -> None:
    """A fired or resolved alert (any thread): the live stream, then the webhook (a thread of
    its own: a slow receiver never holds a request)."""
    body = event.to_dict()
    feed.publish(FeedMessage("alert", (event.subject,), body))
    if webhook:
        threading.Thread(
            target=_post, args=(webhook, _encode(body)), name="llmledger-webhook", daemon=True
        ).start()


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=_WEBHOOK_TIMEOUT) as response:
            response.read()
    except Exception as exc:  # the alert is logged and on the stream already
        log.warning("quota alert webhook %s failed: %s", url, exc)

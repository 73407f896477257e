"""Committing the gateway's usage events, and failing closed while the ledger cannot.

``commit`` hands an event to the ledger's single writer and waits for the group commit that
holds it. When a commit fails (disk full, database locked or gone) the recorder turns
``ok`` off: the proxy then answers 503 ``ledger_unavailable`` BEFORE calling any upstream, so
no billed call goes unrecorded. The events that could not be written are kept in memory (up
to ``MAX_HELD``) and submitted again every ``retry_seconds``; the first that commits turns
``ok`` back on. Their ids are the requests' ids, so a retry never counts anything twice.

With quotas on, an admitted request's event is written by ``settle`` instead (the event and the
drop of the request's reservation in one transaction), its retries too. ``on_commit`` hears of
every committed event (the usage API's live stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from llmledger.errors import InvalidEventError
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.quota.admission import Reservation

__all__ = ["Recorder"]

log = logging.getLogger("llmledger.gateway")

MAX_HELD = 10_000  # events kept for a retry while the ledger cannot record

# Writes an admitted request's event and drops its reservation (the quota gate's ``settle``).
Settle = Callable[[UsageEvent, Reservation], Awaitable[None]]


class Recorder:
    def __init__(self, ledger: Ledger, retry_seconds: float = 1.0) -> None:
        self.ledger = ledger
        self.retry_seconds = retry_seconds
        self.ok = True
        self.held: dict[str, UsageEvent] = {}  # by id: events waiting for the ledger
        self.lost = 0  # held events dropped past MAX_HELD
        self.last_error = ""
        self.settle: Settle | None = None
        self.on_commit: Callable[[UsageEvent], None] | None = None
        self._settling: dict[str, Reservation] = {}  # held event id -> its reservation
        self._retrying: asyncio.Task[None] | None = None

    async def commit(self, event: UsageEvent, reservation: Reservation | None = None) -> bool:
        """Submit ``event`` and wait for its commit (settling ``reservation`` with it); False
        when it could not be recorded."""
        try:
            await self._write(event, reservation)
        except InvalidEventError as exc:  # a bug of ours, not the ledger's state
            log.error("gateway: usage of request %s is not a valid event: %s", event.id, exc)
            return False
        except Exception as exc:
            if reservation is not None:
                self._settling[event.id] = reservation
            self._failed(event, exc)
            return False
        if not self.ok:
            self._recovered()
        if self.on_commit is not None:
            self.on_commit(event)
        return True

    def _write(self, event: UsageEvent, reservation: Reservation | None) -> Awaitable[None]:
        if reservation is None or self.settle is None:
            return asyncio.wrap_future(self.ledger.submit(event))
        return self.settle(event, reservation)

    def _failed(self, event: UsageEvent, exc: BaseException) -> None:
        self.last_error = str(exc) or type(exc).__name__
        if self.ok:
            log.error(
                "gateway: the ledger cannot record usage (%s); answering 503 ledger_unavailable "
                "without calling upstreams until it can",
                self.last_error,
            )
        self.ok = False
        if len(self.held) >= MAX_HELD:
            self._settling.pop(self.held.pop(next(iter(self.held))).id, None)
            self.lost += 1
            log.error("gateway: %d usage event(s) lost while the ledger was unavailable", self.lost)
        self.held[event.id] = event
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry())

    def _recovered(self) -> None:
        self.ok = True
        log.warning("gateway: the ledger records again; %d held event(s) to write", len(self.held))

    async def _retry(self) -> None:
        while self.held:
            await asyncio.sleep(self.retry_seconds)
            events = list(self.held.values())
            results = await asyncio.gather(
                *(self._write(e, self._settling.get(e.id)) for e in events),
                return_exceptions=True,
            )
            for event, result in zip(events, results):
                if not isinstance(result, BaseException):
                    self.held.pop(event.id, None)
                    self._settling.pop(event.id, None)
            if len(self.held) < len(events) and not self.ok:
                self._recovered()

    async def close(self) -> None:
        """Stop retrying; one last try for what is still held (logged if it fails)."""
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
        events = list(self.held.values())
        results = await asyncio.gather(
            *(self._write(e, self._settling.get(e.id)) for e in events), return_exceptions=True
        )
        failed = sum(1 for result in results if isinstance(result, BaseException))
        if failed:
            log.error("gateway: %d usage event(s) could not be recorded", failed)
        self.held.clear()
        self._settling.clear()

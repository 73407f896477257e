"""The single background writer: events submitted from any thread become group commits.

Callers on a request path (SDK capture, middleware, the gateway) must never wait on the
database or fail because of it. They ``submit`` an event and go on; one thread drains the
queue and writes everything waiting in one transaction. ``submit`` returns a Future that
resolves once the event's transaction committed, so a caller that must know (the gateway,
before it sends a response's last byte) can wait for exactly that.

A failed write is never swallowed quietly: it is counted, logged at ERROR level, and set on
the futures of the events it held.

Work that must commit with the events (the gateway's quota reservations and settles) is a
``Job``: ``submit_job`` queues it with the events, and the writer's ``batcher`` (set by the
quota service) writes each batch's events and does its jobs in ONE transaction.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

from llmledger.events import UsageEvent

log = logging.getLogger("llmledger.writer")

_MAX_BATCH = 2_000


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


# An event, or a function the writer calls to build it (None: nothing to write), so a caller
# on a request path can hand over the building too.
Deferred = Callable[[], "UsageEvent | None"]


class Job(Protocol):
    """Work done inside a group commit's transaction; it reports to its own submitter."""

    def fail(self, exc: BaseException) -> None:
        """The batch holding this job failed (nothing of it was committed)."""
        ...


class Batcher(Protocol):
    def commit(self, events: Sequence[UsageEvent], jobs: Sequence[Job]) -> None:
        """Write ``events`` and do ``jobs`` in one transaction; raise if it failed."""
        ...


_Item = tuple["UsageEvent | Deferred", "Future[None]"] | Job | _FlushMarker | None


class BackgroundWriter:
    """Batches submitted events into group commits on one daemon thread."""

    def __init__(
        self,
        write: Callable[[Sequence[UsageEvent]], object],
        *,
        name: str = "llmledger-writer",
        max_batch: int = _MAX_BATCH,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._closed = False
        self.written = 0
        self.failed = 0
        self.last_error: BaseException | None = None
        self.batcher: Batcher | None = None  # writes batches with jobs (and all, once set)
        self._committing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        # Interpreter exit flushes whatever is still queued.
        atexit.register(_close_at_exit, weakref.ref(self))

    def submit(self, event: UsageEvent | Deferred) -> Future[None]:
        """Queue one event (or a ``Deferred`` building it on the writer thread); the Future
        resolves when it is committed (or fails)."""
        future: Future[None] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the ledger writer is closed"))
            return future
        self._queue.put((event, future))
        return future

    def submit_job(self, job: Job) -> None:
        """Queue ``job`` for the next group commit (it needs a ``batcher``)."""
        if self._closed:
            job.fail(RuntimeError("the ledger writer is closed"))
            return
        self._queue.put(job)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted before this call is written; False on timeout."""
        if not self._thread.is_alive():
            return True
        marker = _FlushMarker()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    @property
    def idle(self) -> bool:
        """Nothing queued and no commit under way (a caller may write itself, unqueued)."""
        return not self._committing and self._queue.empty()

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            self._committing = True
            batch: list[tuple[UsageEvent | Deferred, Future[None]]] = []
            jobs: list[Job] = []
            markers: list[_FlushMarker] = []
            while True:
                if item is None:
                    stop = True
                elif isinstance(item, _FlushMarker):
                    markers.append(item)
                elif isinstance(item, tuple):
                    batch.append(item)
                else:
                    jobs.append(item)
                if stop or len(batch) + len(jobs) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                if batch or jobs:
                    self._commit(batch, jobs)
            finally:
                self._committing = False
            for marker in markers:
                marker.done.set()

    def _commit(
        self, pending: list[tuple[UsageEvent | Deferred, Future[None]]], jobs: list[Job]
    ) -> None:
        batch: list[tuple[UsageEvent, Future[None]]] = []
        for item, future in pending:
            if isinstance(item, UsageEvent):
                batch.append((item, future))
                continue
            try:
                built = item()
            except BaseException as exc:
                self._failed([(None, future)], exc)
                continue
            if built is None:
                future.set_result(None)
            else:
                batch.append((built, future))
        if not batch and not jobs:
            return
        events = [event for event, _ in batch]
        try:
            if self.batcher is not None:
                self.batcher.commit(events, jobs)
            elif jobs:
                raise RuntimeError("the ledger writer was given jobs without a batcher")
            else:
                self._write(events)
        except BaseException as exc:
            for job in jobs:
                job.fail(exc)
            if batch:
                self._failed(batch, exc)
            else:  # the jobs' submitters hear of it (and hold their events for a retry)
                self.last_error = exc
                log.error("llmledger could not commit %d quota job(s): %s", len(jobs), exc)
            return
        self.written += len(batch)
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    def _failed(self, batch: Sequence[tuple[object, Future[None]]], exc: BaseException) -> None:
        self.failed += len(batch)
        self.last_error = exc
        log.error(
            "llmledger could not record %d usage event(s): %s (%d lost so far)",
            len(batch),
            exc,
            self.failed,
        )
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)


def _close_at_exit(ref: weakref.ref[BackgroundWriter]) -> None:
    writer = ref()
    if writer is not None:
        writer.close(timeout=10.0)

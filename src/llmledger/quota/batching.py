"""The gateway's reserve-then-settle cycle inside the ledger writer's group commit.

``QuotaBook.check_and_reserve`` and ``settle`` cost a transaction each, per request. Here an
admission, a settle and a release are ``Job``s of the ledger's single writer
(writer.py): each group commit writes the waiting events, drops the holds they settle, and
decides and stores the waiting admissions, in ONE transaction, however many requests that is.

    batcher = QuotaBatcher(ledger, book)       # the writer's batcher from now on
    job = AdmitJob(Subject("u1", key_id="k1", model="gpt-4o"), request_id, estimate)
    batcher.submit(job); admission = job.future.result()  # a loop's job: await job.waiter
    batcher.submit(SettleJob(event, admission.reservation))  # event + hold drop, one commit

Admissions decide on an ``AdmissionView``: each request subject's limits (plans, add-ons,
budgets), those limits' counters and the holds on their subjects, kept in memory between
commits. It stays exact because each commit updates it with its own writes inside the
transaction (counters are read back after the events are written), and it is dropped
whenever the transaction's opening mark differs from the mark the last commit left: another
process wrote to the file, or another write of this process (a CLI-like admin call, an expiry
sweep) did. The hold rows are written as before, so gateway processes sharing one SQLite file
see each other's reservations and stay race-free: their commits are serialized by SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from llmledger.events import UsageEvent
from llmledger.quota.admission import Admission, Estimate, Reservation, refusal
from llmledger.quota.limits import Limit, Subject, Usage, limits_for, usages
from llmledger.quota.records import (
    AlertState,
    CounterRange,
    Counts,
    Hold,
    QuotaBatch,
    QuotaBatchStorage,
)

if TYPE_CHECKING:
    from llmledger.ledger import Ledger
    from llmledger.quota.service import QuotaBook
    from llmledger.writer import Job

__all__ = [
    "AdmissionView",
    "AdmitJob",
    "CountersMoved",
    "QuotaBatcher",
    "ReleaseJob",
    "SettleJob",
]

log = logging.getLogger("llmledger.quota")
R = TypeVar("R")

_MAX_CACHED_SUBJECTS = 20_000  # limit entries kept before the cache starts over


class CountersMoved(Exception):
    """The ledger counts in another time zone than this book (another process's config):
    admit through ``QuotaBook.check_and_reserve``, which recounts."""


# -- jobs --------------------------------------------------------------------------------------


class _Job(Generic[R]):
    """A job's outcome goes to ``future`` (threads wait on it), or, for a job made on an
    event loop (``loop``), to ``waiter`` only: every waiter of a commit is set by ONE call into
    its loop (a wake-up per commit, not per request)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop
        self.future: Future[R] | None = None if loop is not None else Future()
        self.waiter: asyncio.Future[R] | None = None if loop is None else loop.create_future()

    def fail(self, exc: BaseException) -> None:
        _deliver([(self, exc)])


Outcome = tuple["_Job[Any]", object]


def _deliver(outcomes: Sequence[Outcome]) -> None:
    """Set each job's result (or exception, when the outcome is one)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for job, outcome in outcomes:
        if job.loop is not None:
            by_loop.setdefault(job.loop, []).append((job, outcome))
        elif job.future is not None and not job.future.done():
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)
    for loop, found in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_set_waiters, found)


def _set_waiters(outcomes: Sequence[Outcome]) -> None:
    for job, outcome in outcomes:
        waiter = job.waiter
        if waiter is None or waiter.done():  # cancelled: the client went away
            continue
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


class AdmitJob(_Job[Admission]):
    """Admit a request and hold its bound, or refuse it."""

    def __init__(
        self,
        who: Subject,
        request_id: str,
        estimate: Estimate,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(loop)
        self.who = who
        self.request_id = request_id
        self.estimate = estimate


class SettleJob(_Job[None]):
    """Write a request's event and drop its holds; its limits' alerts are checked after."""

    def __init__(
        self,
        event: UsageEvent,
        reservation: Reservation,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(loop)
        self.event = event
        self.reservation = reservation
        self.found: list[Usage] = []
        self.states: list[AlertState] = []


class ReleaseJob(_Job[None]):
    """Drop a request's holds (it ended without usage to settle)."""

    def __init__(self, request_id: str, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(loop)
        self.request_id = request_id


# -- the view ----------------------------------------------------------------------------------


class _Held:
    """The holds on one subject, by request, with their running sums (an admission reads
    them in constant time however many requests are in flight)."""

    def __init__(self) -> None:
        self.by_request: dict[str, Hold] = {}
        self.tokens = 0
        self.cost_nanos = 0
        self.first_expiry: datetime | None = None  # no later than the earliest hold's expiry

    def add(self, hold: Hold) -> None:
        self.drop(hold.request_id)
        self.by_request[hold.request_id] = hold
        self.tokens += hold.tokens
        self.cost_nanos += hold.cost_nanos
        if self.first_expiry is None or hold.expires_at < self.first_expiry:
            self.first_expiry = hold.expires_at

    def drop(self, request_id: str) -> None:
        hold = self.by_request.pop(request_id, None)
        if hold is not None:
            self.tokens -= hold.tokens
            self.cost_nanos -= hold.cost_nanos

    def counts(self, now: datetime) -> Counts | None:
        if self.first_expiry is not None and self.first_expiry <= now:
            # Expired holds never count again (the expiry sweep deletes their rows).
            for request_id, hold in list(self.by_request.items()):
                if hold.expires_at <= now:
                    self.drop(request_id)
            self.first_expiry = min((h.expires_at for h in self.by_request.values()), default=None)
        if not self.by_request:
            return None
        return Counts(self.tokens, 0, self.cost_nanos, len(self.by_request))


@dataclass(frozen=True)
class _CachedLimits:
    limits: tuple[Limit, ...]
    counters: tuple[CounterRange, ...]  # each limit's
    subjects: tuple[str, ...]  # the limits' subjects, each once: where an admission holds
    until: datetime  # recomputed from here on (a window ends, an add-on starts or expires)


class AdmissionView:
    """What admissions decide on, in memory between commits (see the module docstring).
    Used inside write transactions only (the writer's, or ``admit_now``'s), under ``lock``."""

    def __init__(self, book: QuotaBook) -> None:
        self.book = book
        self.lock = threading.Lock()
        self._mark: Hashable | None = None
        self._zone_ok = False
        self._limits: dict[Subject, _CachedLimits] = {}
        self._counts: dict[str, dict[CounterRange, Counts]] = {}  # by subject
        self._holds: dict[str, _Held] = {}  # by subject (those read from the file)
        self._hold_subjects: dict[str, list[str]] = {}  # request id -> its held subjects
        self._states: dict[tuple[str, ...], list[AlertState]] = {}  # by limit keys

    def clear(self) -> None:
        self._mark = None
        self._limits.clear()
        self._counts.clear()
        self._holds.clear()
        self._hold_subjects.clear()
        self._states.clear()

    def begin(self, batch: QuotaBatch) -> None:
        """Start a commit: forget everything if anything else wrote since the last one (alert
        states too: the book stores a fired or resolved one in a write of its own)."""
        if batch.opening_mark != self._mark:
            self.clear()
            self._zone_ok = batch.counter_zone() == self.book.zone_name

    def end(self, batch: QuotaBatch) -> None:
        """The commit's writes are done: what the view holds is what the file holds."""
        self._mark = batch.mark()

    def wrote(self, events: Sequence[UsageEvent]) -> None:
        """Events were written: their subjects' counters are read again when needed."""
        forget = self._counts.pop
        for event in events:
            for ident, kind in (
                (event.user_id, "user:"),
                (event.org_id, "org:"),
                (event.api_key_id, "key:"),
                (event.model, "model:"),
            ):
                if ident:
                    forget(kind + ident, None)

    def dropped(self, request_ids: Sequence[str]) -> None:
        for request_id in request_ids:
            for subject in self._hold_subjects.pop(request_id, ()):
                held = self._holds.get(subject)
                if held is not None:
                    held.drop(request_id)

    # -- reads -----------------------------------------------------------------------------

    def counts(self, batch: QuotaBatch, ranges: Sequence[CounterRange]) -> list[Counts]:
        missing = [w for w in ranges if w not in self._counts.get(w.subject, ())]
        if missing:
            for wanted, counts in zip(missing, batch.counts(missing)):
                self._counts.setdefault(wanted.subject, {})[wanted] = counts
        return [self._counts[w.subject][w] for w in ranges]

    def held(self, batch: QuotaBatch, subjects: Sequence[str], now: datetime) -> dict[str, Counts]:
        """What unexpired holds keep per subject (as ``QuotaReader.held``)."""
        missing = [s for s in subjects if s not in self._holds]
        if missing:
            for subject in missing:
                self._holds[subject] = _Held()
            for hold in batch.holds(missing):
                self._remember(hold)
        result: dict[str, Counts] = {}
        for subject in subjects:
            counts = self._holds[subject].counts(now)
            if counts is not None:
                result[subject] = counts
        return result

    def _remember(self, hold: Hold) -> None:
        held = self._holds.get(hold.subject)
        if held is None:
            held = self._holds[hold.subject] = _Held()
        held.add(hold)
        subjects = self._hold_subjects.setdefault(hold.request_id, [])
        if hold.subject not in subjects:
            subjects.append(hold.subject)

    def limits(self, batch: QuotaBatch, who: Subject, now: datetime) -> _CachedLimits:
        cached = self._limits.get(who)
        if cached is not None and now < cached.until:
            return cached
        quotas = self.book.quotas
        limits = tuple(limits_for(batch, quotas, who, now))
        until = min((limit.window.end for limit in limits), default=now + timedelta(hours=1))
        for subject in (s for s in (who.user, who.org) if s is not None):
            grants = batch.grants(subject)
            if grants and quotas.settings.rollover:
                until = now  # carried add-ons read past months' counters: never cached
            for grant in grants:
                for moment in (grant.granted_at, grant.expires_at):
                    if moment is not None and now < moment < until:
                        until = moment
        if len(self._limits) >= _MAX_CACHED_SUBJECTS:
            self._limits.clear()
        counters = tuple(limit.counter for limit in limits)
        subjects = tuple(dict.fromkeys(limit.subject for limit in limits))
        cached = self._limits[who] = _CachedLimits(limits, counters, subjects, until)
        return cached

    # -- the cycle -------------------------------------------------------------------------

    def admit(
        self,
        batch: QuotaBatch,
        who: Subject,
        request_id: str,
        estimate: Estimate,
        now: datetime,
        unwritten: list[Hold] | None = None,
    ) -> Admission:
        """``QuotaBook.check_and_reserve`` on the view: refuse, or hold the bound (its rows
        added to ``unwritten`` when given, for the caller to store with the others')."""
        if not self._zone_ok:
            raise CountersMoved("the ledger's counters are in another time zone")
        limited = self.limits(batch, who, now)
        counts = self.counts(batch, limited.counters)
        found = usages(limited.limits, counts, self.held(batch, limited.subjects, now))
        for usage in found:
            if usage.limit.hard and usage.exhausted:
                return Admission(None, refusal(usage))
        bound = self.book.capped(estimate)
        expires = self.book.reservation_expiry(now)
        holds = tuple(
            Hold(request_id, s, bound.tokens, bound.cost_nanos, expires) for s in limited.subjects
        )
        if unwritten is None:
            batch.add_holds(holds)
        else:
            unwritten.extend(holds)
        for hold in holds:
            self._remember(hold)
        return Admission(Reservation(request_id, who, holds, expires, limited.limits))

    def settled(
        self, batch: QuotaBatch, reservation: Reservation
    ) -> tuple[list[Usage], list[AlertState]]:
        """The use of a settled request's limits (after its event) and their alert states."""
        limits = reservation.limits
        if not limits:
            return [], []
        counts = self.counts(batch, [limit.counter for limit in limits])
        keys = tuple(limit.key for limit in limits)
        states = self._states.get(keys)
        if states is None:  # read once for the requests of the same subjects
            if len(self._states) >= _MAX_CACHED_SUBJECTS:
                self._states.clear()
            states = self._states[keys] = batch.alert_states(keys)
        return usages(limits, counts, {}), states


# -- the batcher -------------------------------------------------------------------------------


class QuotaBatcher:
    """The ledger writer's batcher (writer.py ``Batcher``): every group commit goes through
    ``commit``, with whatever jobs were queued alongside its events."""

    def __init__(self, ledger: Ledger, book: QuotaBook) -> None:
        self.ledger = ledger
        self.book = book
        self.view = AdmissionView(book)
        if not ledger.batches_quotas:
            raise TypeError(f"{type(ledger.store).__name__} cannot batch quota work")
        self._store = cast(QuotaBatchStorage, ledger.store)

    def submit(self, job: AdmitJob | SettleJob | ReleaseJob) -> None:
        self.ledger.writer.submit_job(job)

    def admit_now(self, who: Subject, request_id: str, estimate: Estimate) -> Admission | None:
        """Admit on the caller's thread when the writer is idle and the ledger free this
        instant (one small transaction, no round trip through the writer's queue: what a
        lone request waits for); None when not, and nothing was done (submit an AdmitJob)."""
        if not self.ledger.writer.idle:
            return None
        now = self.book.now()
        admitted: list[Admission] = []

        def work(batch: QuotaBatch) -> None:
            with self.view.lock:
                self.view.begin(batch)
                admitted.append(self.view.admit(batch, who, request_id, estimate, now))
                self.view.end(batch)

        try:
            done = self._store.try_quota_batch(work)
        except BaseException:
            with self.view.lock:
                self.view.clear()  # it may hold what was rolled back
            raise
        return admitted[0] if done else None

    def commit(self, events: Sequence[UsageEvent], jobs: Sequence[Job]) -> None:
        admits = [job for job in jobs if isinstance(job, AdmitJob)]
        settles = [job for job in jobs if isinstance(job, SettleJob)]
        releases = [job for job in jobs if isinstance(job, ReleaseJob)]
        written = [*events, *(job.event for job in settles)]
        now = self.book.now()
        view = self.view
        admitted: list[tuple[AdmitJob, Admission | CountersMoved]] = []

        def work(batch: QuotaBatch) -> None:
            with view.lock:
                decide(batch)

        def decide(batch: QuotaBatch) -> None:
            view.begin(batch)
            view.wrote(written)
            dropped = [job.reservation.request_id for job in settles]
            dropped += [job.request_id for job in releases]
            if dropped:
                batch.drop_holds(dropped)
                view.dropped(dropped)
            for settle in settles:
                settle.found, settle.states = view.settled(batch, settle.reservation)
            holds: list[Hold] = []
            for job in admits:
                try:
                    found = view.admit(batch, job.who, job.request_id, job.estimate, now, holds)
                    admitted.append((job, found))
                except CountersMoved as exc:
                    admitted.append((job, exc))
            if holds:
                batch.add_holds(holds)
            view.end(batch)

        try:
            self.ledger.record_batch(written, work)
        except BaseException:
            with view.lock:
                view.clear()  # it may hold what was rolled back
            raise
        outcomes: list[Outcome] = [(job, outcome) for job, outcome in admitted]
        outcomes += [(job, None) for job in (*settles, *releases)]
        _deliver(outcomes)
        for settle in settles:
            try:
                self.book.apply_alerts(settle.found, settle.states)
            except Exception:  # the usage is committed; the next settle checks again
                log.exception("quota alerts of request %s failed", settle.reservation.request_id)

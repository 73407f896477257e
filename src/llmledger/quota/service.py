"""The quota service: plans, add-ons, budgets and alerts over one ledger, and the
reserve-then-settle cycle the gateway runs around every upstream call.

    book = ledger.quotas                           # a QuotaBook (settings from [quotas]/[plans])
    who = Subject(user_id="u1", org_id="acme", key_id="key_1", model="gpt-4o")
    admission = book.check_and_reserve(who, request_id, book.estimate("gpt-4o", 1200, 4096))
    if not admission.admitted:
        return 429, admission.refusal.error()      # {"error": {"type": "budget_exceeded", …}}
    try:
        event = call_upstream_and_meter(...)       # a UsageEvent (user/org/key/model set)
    except Exception:
        book.release(admission.reservation)        # nothing used: the hold goes
        raise
    book.settle(admission.reservation, event)      # records the event, drops the hold: one commit

- ``check_and_reserve`` decides in ONE ``BEGIN IMMEDIATE`` transaction: every hard limit on the
  request (plan meters, hard budgets) must have room left, counting what is used and what open
  reservations hold; if so it holds the estimate (capped by ``max_reservation_tokens`` /
  ``max_reservation_usd``) on each subject. N parallel requests overrun a limit by at most one
  request's bound; processes sharing the SQLite file see the same counts. A plan with
  ``overage = "allow"`` never refuses (its summary counts the overage); soft budgets only alert.
- ``settle`` records the real usage and deletes the hold in the same transaction, then checks
  the alerts of the subjects it touched; ``release`` deletes a hold; holds left by a crash or a
  hung upstream expire after ``reservation_seconds`` (``expire_reservations`` deletes them; a
  reservation ignores expired holds anyway).
- ``summary(user_id=…)`` is the usage API's meter: ``{"month", "used", "limit", "remaining",
  "percent", "addOn", "plan", "unit", "resetsAt", "overage", "hasAccess"}``.
- Alerts (quota/alerts.py) go to a built-in log line (logger ``llmledger.quota``) and to every
  callback given to ``subscribe`` (the live stream, a webhook).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from llmledger.errors import InvalidEventError, LedgerError
from llmledger.events import MAX_TOKENS, UsageEvent
from llmledger.pricing.lane import lane_cost
from llmledger.quota import alerts
from llmledger.quota.admission import Admission, Estimate, Refusal, Reservation, budget_row, refusal
from llmledger.quota.alerts import AlertEvent
from llmledger.quota.limits import (
    Limit,
    PlanMeter,
    Subject,
    Usage,
    budget_limits,
    limits_for,
    metered_subjects,
    plan_meter,
    usages,
)
from llmledger.quota.periods import counter_range, month_at, zone_offsets
from llmledger.quota.plans import NANOS_PER_USD, Quotas
from llmledger.quota.records import (
    AlertState,
    Budget,
    CounterRange,
    Counts,
    Grant,
    Hold,
    QuotaReader,
    subject,
)

if TYPE_CHECKING:
    from llmledger.ledger import Ledger

__all__ = ["Admission", "Estimate", "QuotaBook", "Refusal", "Reservation", "Subject"]

log = logging.getLogger("llmledger.quota")
T = TypeVar("T")


class _ZoneMoved(Exception):
    """The ledger's counters are in another zone than this book's (another process's config)."""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime | None, default: datetime) -> datetime:
    if moment is None:
        return default
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


@dataclass
class _Decision:
    refusal: Refusal | None = None
    usages: list[Usage] = field(default_factory=list)


class QuotaBook:
    """Plans, add-ons, budgets, alerts and reservations over one ledger (see the module
    docstring). Thread-safe: every call is one or two store transactions."""

    def __init__(
        self,
        ledger: Ledger,
        quotas: Quotas | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._ledger = ledger
        self._store = ledger.store
        self.quotas = quotas if quotas is not None else ledger.config.quotas
        self._clock = clock
        self._listeners: list[Callable[[AlertEvent], None]] = []
        self._listeners_lock = threading.Lock()
        self._sync_zone()

    def now(self) -> datetime:
        """The time this book works at (its clock: tests move it)."""
        return self._clock()

    # -- the counters' time zone ---------------------------------------------------------------

    @property
    def zone_name(self) -> str:
        return self.quotas.settings.timezone

    def _sync_zone(self) -> None:
        """Count in the configured zone (the counters are rebuilt when it changed)."""
        stored = self._store.read_quotas(lambda reader: reader.counter_zone())
        if stored == self.zone_name:
            return
        if self._store.readonly:
            why = (
                "quotas were never used on it"
                if stored is None
                else f"it counts quotas in {stored} but the config says {self.zone_name}"
            )
            raise LedgerError(f"the ledger is read-only and {why}; open it writable once to count")
        if stored is None:
            log.info("quota counters: counting in %s from now on", self.zone_name)
        else:
            log.warning("quota counters: time zone %s -> %s, recounting", stored, self.zone_name)
        self._store.set_counter_zone(self.zone_name, zone_offsets(self.zone_name))

    def _checked(self, reader: QuotaReader) -> QuotaReader:
        if reader.counter_zone() != self.zone_name:
            raise _ZoneMoved
        return reader

    def _read(self, read: Callable[[QuotaReader], T]) -> T:
        try:
            return self._store.read_quotas(lambda r: read(self._checked(r)))
        except _ZoneMoved:
            self._sync_zone()
            return self._store.read_quotas(read)

    # -- the gateway's cycle -------------------------------------------------------------------

    def estimate(self, model: str, input_tokens: int, max_output_tokens: int) -> Estimate:
        """A request's bound: its input and max output, priced with the ledger's price book
        (cost 0 when the model has no price)."""
        lane = self._ledger.prices.lane(model)  # price_event's rates, without an event
        cost = 0 if lane is None else lane_cost(lane, input_tokens, 0, 0, 0, max_output_tokens, 0)
        return Estimate(input_tokens + max_output_tokens, cost)

    def capped(self, estimate: Estimate) -> Estimate:
        """The part of a request's bound a reservation holds (``max_reservation_*``)."""
        settings = self.quotas.settings
        tokens = max(0, min(estimate.tokens, settings.max_reservation_tokens))
        max_cost = round(settings.max_reservation_usd * NANOS_PER_USD)
        return Estimate(tokens, max(0, min(estimate.cost_nanos, max_cost)))

    def _decide(
        self, reader: QuotaReader, who: Subject, estimate: Estimate, now: datetime
    ) -> _Decision:
        limits = limits_for(self._checked(reader), self.quotas, who, now)
        subjects = list(dict.fromkeys(limit.subject for limit in limits))
        counts = reader.counts([limit.counter for limit in limits])
        found = usages(limits, counts, reader.held(subjects, now))
        for usage in found:
            if usage.limit.hard and usage.exhausted:
                return _Decision(refusal(usage), found)
        return _Decision(None, found)

    def check_and_reserve(self, who: Subject, request_id: str, estimate: Estimate) -> Admission:
        """Admit the request and hold ``estimate`` on each of its limited subjects, or refuse
        it (``Admission.refusal``) when a hard limit has no room left. One transaction."""
        if not request_id:
            raise ValueError("a reservation needs the request's id")
        now = self._clock()
        bound = self.capped(estimate)
        expires = self.reservation_expiry(now)
        decision = _Decision()

        def decide(reader: QuotaReader) -> Sequence[Hold]:
            nonlocal decision
            decision = self._decide(reader, who, bound, now)
            if decision.refusal is not None:
                return ()
            subjects = dict.fromkeys(usage.limit.subject for usage in decision.usages)
            return tuple(
                Hold(request_id, s, bound.tokens, bound.cost_nanos, expires) for s in subjects
            )

        try:
            holds = self._store.reserve(now, decide)
        except _ZoneMoved:
            self._sync_zone()
            holds = self._store.reserve(now, decide)
        if decision.refusal is not None:
            return Admission(None, decision.refusal)
        limits = tuple(usage.limit for usage in decision.usages)
        return Admission(Reservation(request_id, who, tuple(holds), expires, limits))

    def reservation_expiry(self, now: datetime) -> datetime:
        """When a reservation made at ``now`` expires if nothing settles or releases it."""
        return now + timedelta(seconds=self.quotas.settings.reservation_seconds)

    def would_admit(self, who: Subject, estimate: Estimate) -> Refusal | None:
        """Whether a request with this bound would be admitted now (nothing is held)."""
        now = self._clock()
        bound = self.capped(estimate)
        return self._read(lambda reader: self._decide(reader, who, bound, now)).refusal

    def settle(self, reservation: Reservation | None, event: UsageEvent) -> UsageEvent:
        """Record the request's real usage and drop its holds, in one transaction that also
        reads back the limits it was admitted under; then fire or resolve their alerts.
        Returns the event, priced. Without a reservation: record, then check every limit
        of the event's user, org, key and model."""
        if reservation is None:
            self._ledger.record_settled(event, "")
            self.check_alerts(Subject.of(event))
            return event
        limits = reservation.limits
        settled = self._ledger.record_settled(
            event,
            reservation.request_id,
            counters=[limit.counter for limit in limits],
            alert_keys=[limit.key for limit in limits],
        )
        self.apply_alerts(usages(limits, settled.counts, {}), settled.alerts)
        return event

    def release(self, reservation: Reservation | str) -> int:
        """Drop a request's holds (the upstream failed before any usage)."""
        request_id = reservation if isinstance(reservation, str) else reservation.request_id
        return self._store.release_holds(request_id)

    def expire_reservations(self, now: datetime | None = None) -> int:
        """Delete holds past their expiry; returns how many."""
        return self._store.expire_holds(_aware(now, self._clock()))

    def repair(self) -> int:
        """Recount every usage counter from the events and delete the holds left behind
        (expired, or of a request whose event is recorded); returns expired holds deleted."""
        self._store.rebuild_counters()
        return self._store.expire_holds(self._clock())

    def month_counts(self, subjects: Sequence[str]) -> dict[str, Counts]:
        """What each subject used this month (a change here is a change to its meter)."""
        month = month_at(self._clock(), self.quotas.zone)
        first, last = counter_range(month, self.quotas.zone)
        ranges = [CounterRange(s, first, last) for s in subjects]
        return dict(zip(subjects, self._read(lambda reader: reader.counts(ranges))))

    def held(self, who: Subject) -> dict[str, int]:
        """Tokens held by open reservations, per subject (for tests and the admin API)."""
        now = self._clock()
        found = self._read(lambda reader: reader.held(who.subjects(), now))
        return {s: counts.io_tokens for s, counts in found.items()}

    # -- meters --------------------------------------------------------------------------------

    def _meter(self, reader: QuotaReader, who: Subject, at: datetime) -> PlanMeter:
        candidates = [s for s in (who.user, who.org) if s is not None]
        if not candidates:
            raise ValueError("give a user_id or an org_id")
        assigned = reader.assigned_plans(candidates)
        chosen = metered_subjects(who, assigned)[0]
        return plan_meter(reader, self.quotas, chosen, assigned.get(chosen), at)

    def summary(
        self, user_id: str | None = None, org_id: str | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        """The meter of a user (or org) in the month holding ``at`` (default now), in the
        usage API's shape: ``{"month": "2026-01", "used": 15000, "limit": 50000,
        "remaining": 35000, "percent": 30, "addOn": 0, "plan": "hobby", …}``."""
        when = _aware(at, self._clock())
        who = Subject(user_id=user_id or None, org_id=org_id or None)
        return self._read(lambda reader: self._meter(reader, who, when)).meter.summary()

    def meters(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Every user's and org's meter this month (those with a plan or with usage), each
        summary with ``"subject"`` added; users first, by id."""
        when = _aware(at, self._clock())

        def read(reader: QuotaReader) -> list[dict[str, Any]]:
            return [
                {"subject": meter.limit.subject, **meter.meter.summary()}
                for meter in self._plan_meters(reader, when)
            ]

        return self._read(read)

    def budget_status(
        self, who: Subject | None = None, at: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Each budget limit (on ``who``'s subjects, or all) with its use in the current
        window: id, scope, window, unit, limit, used, remaining, percent, resetsAt, hard."""
        when = _aware(at, self._clock())

        def read(reader: QuotaReader) -> list[tuple[Budget, Usage]]:
            found = reader.budgets(who.subjects() if who is not None else None)
            pairs = [(b, limit) for b in found for limit in budget_limits(b, self.quotas, when)]
            counts = reader.counts([limit.counter for _, limit in pairs])
            return [(b, u) for (b, _), u in zip(pairs, usages([p[1] for p in pairs], counts, {}))]

        return [budget_row(budget, usage) for budget, usage in self._read(read)]

    # -- plans, add-ons and budgets ------------------------------------------------------------

    def _subject_of(self, user_id: str | None, org_id: str | None) -> str:
        if bool(user_id) == bool(org_id):
            raise ValueError("give either a user_id or an org_id")
        return subject("user", user_id) if user_id else subject("org", str(org_id))

    def assign_plan(
        self, plan: str | None, *, user_id: str | None = None, org_id: str | None = None
    ) -> None:
        """Put a user or an org on ``plan`` (None: back to the default plan)."""
        if plan is not None and plan not in self.quotas.plans:
            known = ", ".join(sorted(self.quotas.plans))
            raise LedgerError(f"no plan named {plan!r}; plans: {known}")
        name = self._subject_of(user_id, org_id)
        self._store.assign_plan(name, plan, self._clock())
        self.check_alerts(Subject(user_id=user_id, org_id=org_id))

    def assignments(self) -> dict[str, str]:
        """Every assigned plan by subject (``user:u1`` → ``starter``)."""
        return self._read(lambda reader: reader.assigned_plans())

    def add_grant(
        self,
        units: int,
        *,
        user_id: str | None = None,
        org_id: str | None = None,
        grant_id: str | None = None,
        expires_at: datetime | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> tuple[Grant, bool]:
        """Grant add-on units (tokens, or nano-USD when counting cost) to a user or org;
        (grant, created): the same ``grant_id`` twice grants once."""
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise InvalidEventError(f"add-on tokens must be a whole number above 0, got {units!r}")
        if units > MAX_TOKENS:
            raise InvalidEventError(f"add-on of {units:,} is beyond any real usage")
        when = _aware(at, self._clock())
        if expires_at is not None and _aware(expires_at, when) <= when:
            raise InvalidEventError("the add-on would expire before it is granted")
        grant = Grant(
            id=grant_id or f"addon_{uuid.uuid4().hex[:16]}",
            units=units,
            granted_at=when,
            expires_at=None if expires_at is None else _aware(expires_at, when),
            note=note,
            subject=self._subject_of(user_id, org_id),
        )
        stored, created = self._store.add_grant(grant)
        if created:
            self.check_alerts(Subject(user_id=user_id, org_id=org_id))
        return stored, created

    def grants(self, user_id: str | None = None, org_id: str | None = None) -> list[Grant]:
        """A user's or org's add-ons (everyone's when neither is given), oldest first."""
        name = self._subject_of(user_id, org_id) if (user_id or org_id) else None
        return self._read(lambda reader: reader.grants(name))

    def add_budget(self, budget: Budget) -> Budget:
        if budget.tokens is None and budget.cost_nanos is None:
            raise LedgerError("a budget needs a token limit, a USD limit, or both")
        return self._store.add_budget(budget)

    def budgets(self) -> list[Budget]:
        return self._read(lambda reader: reader.budgets())

    def remove_budget(self, budget_id: str) -> bool:
        return self._store.remove_budget(budget_id)

    # -- alerts --------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[AlertEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with every alert this book raises; returns the unsubscribe."""
        with self._listeners_lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def check_alerts(self, who: Subject | None = None) -> list[AlertEvent]:
        """Fire or resolve the alerts of ``who``'s limits (every limit when None) as their
        use stands now; returns (and delivers) the events this call changed."""
        now = self._clock()

        def read(reader: QuotaReader) -> tuple[list[Usage], list[AlertState]]:
            limits = (
                self._all_limits(reader, now) if who is None else self._limits(reader, who, now)
            )
            counts = reader.counts([limit.counter for limit in limits])
            states = reader.alert_states([limit.key for limit in limits])
            return usages(limits, counts, {}), states

        found, states = self._read(read)
        return self.apply_alerts(found, states)

    def apply_alerts(
        self, found: Sequence[Usage], states: Sequence[AlertState]
    ) -> list[AlertEvent]:
        """Fire or resolve what ``found`` (limits and their use) crossed, given their stored
        ``states``; returns (and delivers) the events stored by this call."""
        delivered = []
        for state, event in alerts.changes(found, states, self._clock()):
            if self._store.mark_alert(state):
                delivered.append(event)
                self._deliver(event)
        return delivered

    def alerts(self, *, open_only: bool = True) -> list[AlertState]:
        """Stored alert states (only those not resolved, by default)."""
        states = self._read(lambda reader: reader.alert_states())
        return [s for s in states if s.resolved_at is None] if open_only else states

    def _limits(self, reader: QuotaReader, who: Subject, at: datetime) -> list[Limit]:
        return limits_for(reader, self.quotas, who, at)

    def _plan_meters(self, reader: QuotaReader, at: datetime) -> list[PlanMeter]:
        """The meters of every user and org with a plan or with usage in ``at``'s month."""
        month = "m:" + month_at(at, self.quotas.zone).key
        assigned = reader.assigned_plans()
        subjects = set(assigned)
        for kind in ("user", "org"):
            subjects.update(reader.counted_subjects(kind, month))
        ordered = sorted(subjects, key=lambda s: (not s.startswith("user:"), s))
        return [plan_meter(reader, self.quotas, s, assigned.get(s), at) for s in ordered]

    def _all_limits(self, reader: QuotaReader, at: datetime) -> list[Limit]:
        limits = [meter.limit for meter in self._plan_meters(reader, at)]
        for budget in reader.budgets():
            limits.extend(budget_limits(budget, self.quotas, at))
        return limits

    def _deliver(self, event: AlertEvent) -> None:
        level = logging.WARNING if event.state == "fired" else logging.INFO
        log.log(level, "quota alert %s: %s", event.state, event.message)
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener's failure must not undo the usage just recorded
                log.exception("quota alert listener %r failed", listener)

    # -- recording bare token counts -----------------------------------------------------------

    def record_tokens(
        self,
        user_id: str,
        tokens: int,
        *,
        org_id: str | None = None,
        source: str = "manual",
        model: str = "unknown",
        event_id: str | None = None,
        ts: datetime | None = None,
    ) -> UsageEvent:
        """Record a bare token count for a user (the original app's ``recordUserTokens``),
        as input tokens of ``model``; then check the user's alerts."""
        if not user_id:
            raise InvalidEventError("a user id is needed to record tokens for a user")
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0:
            raise InvalidEventError(f"tokens must be a whole number above 0, got {tokens!r}")
        event = UsageEvent(
            model=model,
            ts=_aware(ts, self._clock()),
            id=event_id or "",
            source=source,
            input_tokens=tokens,
            user_id=user_id,
            org_id=org_id,
        )
        recorded = self._ledger.record(event)
        self.check_alerts(Subject(user_id=user_id, org_id=org_id, model=model))
        return recorded

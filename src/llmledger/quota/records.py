"""What a ledger keeps for quotas, as every Store speaks it: plan assignments, add-on grants,
budgets, alert state, reservations (holds) and the usage counters they are checked against.

Subjects are strings ``"<kind>:<id>"``: ``user:u1``, ``org:acme``, ``key:key_ab12``,
``model:gpt-5``. Counters are kept per subject and window key: ``d:2026-01-31`` (a local day)
and ``m:2026-01`` (a local month) in the zone the ledger counts in (``counter_zone``); a week
is a range of days, all time a range of months (``CounterRange``).

``QuotaStorage`` is the store side (store/quotas.py for SQLite); ``QuotaReader`` is one
consistent view of it, handed to a callback inside a read or a write transaction. The quota
service (quota/service.py) does the arithmetic; stores only keep and sum.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol, TypeVar, runtime_checkable

import msgspec

from llmledger.events import UsageEvent
from llmledger.query import Totals

__all__ = [
    "SCOPES",
    "WINDOW_NAMES",
    "AlertState",
    "Budget",
    "CounterRange",
    "Counts",
    "Grant",
    "Hold",
    "QuotaBatch",
    "QuotaBatchStorage",
    "QuotaReader",
    "QuotaStorage",
    "Scope",
    "Settled",
    "WindowName",
    "subject",
]

Scope = Literal["key", "user", "org", "model"]
SCOPES: tuple[Scope, ...] = ("key", "user", "org", "model")
WindowName = Literal["day", "week", "month", "total"]
WINDOW_NAMES: tuple[WindowName, ...] = ("day", "week", "month", "total")

T = TypeVar("T")


def subject(kind: str, ident: str) -> str:
    """``user:u1``: the subject string for a kind and an id."""
    return f"{kind}:{ident}"


class Counts(NamedTuple):
    """Summed usage of a subject over a window (or held by open reservations)."""

    io_tokens: int = 0  # input + output (reasoning is inside output)
    cache_tokens: int = 0  # cache reads + cache writes (5-minute and 1-hour)
    cost_nanos: int = 0  # unpriced events count 0
    events: int = 0

    @property
    def total_tokens(self) -> int:
        return self.io_tokens + self.cache_tokens


class CounterRange(NamedTuple):
    """A subject's counters from window key ``first`` to ``last``, both included."""

    subject: str
    first: str
    last: str


# msgspec Structs, not dataclasses: every run loads this module (a ledger opens its quota
# tables), and a dataclass costs ~3.5 M instructions to create at import (a Struct ~0.1 M).
# Budget stays a dataclass while the stores (store/quotas.py, store/postgres_quotas.py) copy
# it with dataclasses.replace.
class Grant(msgspec.Struct, frozen=True):
    """Add-on units (tokens, or nano-USD when quotas count cost) granted to a subject, e.g. a
    purchase. ``id`` is the caller's: granting the same id twice grants once."""

    id: str
    units: int
    granted_at: datetime
    expires_at: datetime | None = None
    note: str | None = None
    subject: str = ""

    def active(self, at: datetime) -> bool:
        return self.granted_at <= at and (self.expires_at is None or at < self.expires_at)


@dataclass(frozen=True)
class Budget:
    """A limit beyond the plan: tokens and/or USD for a key, user, org or model over a window.

    ``hard`` budgets refuse requests once reached; every budget raises alerts at its
    ``thresholds`` (percent of the limit)."""

    id: str
    scope: Scope
    scope_id: str
    window: WindowName
    tokens: int | None = None
    cost_nanos: int | None = None
    thresholds: tuple[int, ...] = (80, 100)
    hard: bool = True
    created_at: datetime | None = None
    note: str | None = None

    @property
    def subject(self) -> str:
        return subject(self.scope, self.scope_id)


class Hold(msgspec.Struct, frozen=True):
    """Part of a reservation: units held for one subject until settled, released or expired."""

    request_id: str
    subject: str
    tokens: int
    cost_nanos: int
    expires_at: datetime


class AlertState(msgspec.Struct, frozen=True):
    """A threshold of a limit that fired in a window (``resolved_at``: usage fell below)."""

    limit_key: str  # "plan:user:u1", "budget:<id>:tokens", "budget:<id>:usd"
    window: str  # the window's key, e.g. "2026-01"
    threshold: int  # percent
    fired_at: datetime
    resolved_at: datetime | None = None
    used: int = 0
    limit: int = 0


class Settled(NamedTuple):
    """What ``write_settled`` wrote, and the counters and alert states it was asked to read
    back in the same transaction."""

    written: int
    counts: list[Counts]
    alerts: list[AlertState]


class QuotaReader(Protocol):
    """One consistent view of the quota tables (inside a transaction)."""

    def counter_zone(self) -> str | None:
        """The IANA zone the counters' day and month keys are in."""
        ...

    def assigned_plans(self, subjects: Sequence[str] | None = None) -> dict[str, str]:
        """Plan names by subject (all assignments when ``subjects`` is None)."""
        ...

    def grants(self, subject: str | None = None) -> list[Grant]:
        """A subject's grants (everyone's when None), oldest first."""
        ...

    def budgets(self, subjects: Sequence[str] | None = None) -> list[Budget]:
        """Budgets on these subjects (all when None), oldest first."""
        ...

    def counts(self, ranges: Sequence[CounterRange]) -> list[Counts]:
        """Summed counters of each range, in order."""
        ...

    def held(self, subjects: Sequence[str], now: datetime) -> dict[str, Counts]:
        """What open (unexpired) reservations hold per subject; absent: nothing."""
        ...

    def alert_states(self, limit_keys: Sequence[str] | None = None) -> list[AlertState]: ...

    def counted_subjects(self, kind: str, window: str) -> list[str]:
        """Subjects of ``kind`` with counters in window key ``window`` (e.g. ``m:2026-01``)."""
        ...


class QuotaStorage(Protocol):
    """The quota operations of a Store (store/base.py). Each write is one transaction."""

    def read_quotas(self, read: Callable[[QuotaReader], T]) -> T:
        """``read`` called with a consistent view (one read transaction); its result."""
        ...

    def reserve(
        self, now: datetime, decide: Callable[[QuotaReader], Sequence[Hold]]
    ) -> Sequence[Hold]:
        """In ONE write transaction (exclusive across processes): drop expired holds, call
        ``decide`` with a view of the state, store the holds it returns (replacing any of the
        same request and subject). Returns them."""
        ...

    def write_settled(
        self,
        events: Sequence[UsageEvent],
        request_id: str,
        *,
        per_model: dict[str, Totals] | None = None,
        prepare: Callable[[list[UsageEvent]], None] | None = None,
        counters: Sequence[CounterRange] = (),
        alert_keys: Sequence[str] = (),
    ) -> Settled:
        """``write_events`` and ``release_holds(request_id)`` in ONE transaction: the real
        usage replaces what the request held. ``counters`` and the alert states of
        ``alert_keys`` are read back after the write, in the same transaction."""
        ...

    def release_holds(self, request_id: str) -> int:
        """Delete a request's holds; returns how many there were."""
        ...

    def expire_holds(self, now: datetime) -> int:
        """Delete holds that expired at ``now``; returns how many."""
        ...

    def assign_plan(self, subject: str, plan: str | None, at: datetime) -> None:
        """Put ``subject`` on ``plan`` (None: back to the default plan)."""
        ...

    def add_grant(self, grant: Grant) -> tuple[Grant, bool]:
        """Store a grant; (stored grant, True) when new, (the stored one, False) when its id
        was granted already with the same values. StoreError when the id was used for a
        different grant."""
        ...

    def add_budget(self, budget: Budget) -> Budget:
        """Store a budget (StoreError when its id exists); counting starts for a model named
        by its first budget."""
        ...

    def remove_budget(self, budget_id: str) -> bool: ...

    def mark_alert(self, state: AlertState) -> bool:
        """Fire (``resolved_at`` None) or resolve a threshold's alert; True only for the one
        call that changed it (so an alert fires and resolves once, whoever calls)."""
        ...

    def set_counter_zone(self, name: str, offsets: Sequence[tuple[int, int]]) -> None:
        """Count days and months in zone ``name``, whose UTC offsets are ``(since_us,
        offset_us)`` pairs in time order; counters are rebuilt when the zone changes."""
        ...

    def rebuild_counters(self) -> None:
        """Recompute every usage counter from the events (repair)."""
        ...


class QuotaBatch(QuotaReader, Protocol):
    """The quota tables inside one group commit of the ledger's writer (a write transaction,
    exclusive across processes): read them, and hold or drop reservations."""

    @property
    def opening_mark(self) -> Hashable:
        """``mark()`` as the transaction began, before this batch wrote anything."""
        ...

    def mark(self) -> Hashable:
        """Where the database stands: a later mark equal to an earlier one means nothing was
        written in between (by another process, or by another write of this one)."""
        ...

    def holds(self, subjects: Sequence[str]) -> list[Hold]:
        """Every stored hold on these subjects, expired ones included."""
        ...

    def add_holds(self, holds: Sequence[Hold]) -> None:
        """Store holds (replacing any of the same request and subject)."""
        ...

    def drop_holds(self, request_ids: Sequence[str]) -> None:
        """Delete the holds of these requests."""
        ...


@runtime_checkable
class QuotaBatchStorage(Protocol):
    """A store that runs quota work inside the writer's group commit (SQLite). Stores without
    it reserve and settle one transaction each (``QuotaStorage.reserve`` / ``write_settled``)."""

    def write_batch(
        self,
        events: Sequence[UsageEvent],
        work: Callable[[QuotaBatch], None],
        *,
        per_model: dict[str, Totals] | None = None,
        prepare: Callable[[list[UsageEvent]], None] | None = None,
    ) -> int:
        """``write_events(events)``, then ``work`` with the quota tables, in ONE write
        transaction (all or nothing); returns event rows written."""
        ...

    def try_quota_batch(self, work: Callable[[QuotaBatch], None]) -> bool:
        """``work`` in a write transaction of its own, on the caller's thread, only if one
        can start this instant (False when this store or another process is writing: the
        caller waits for nothing)."""
        ...

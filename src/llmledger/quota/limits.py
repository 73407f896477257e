"""Which limits a request or a meter is held to, and how much of each is used.

A request comes from a ``Subject`` (its user, org, key and model). The limits on it:

- the plan meter of the user when the user has a plan of their own, of the org when the org
  has one (both when both do); the default plan on the user (or, with no user, the org)
  when neither has one;
- every budget on its key, user, org or model (one limit per budget for tokens, one for USD).

Units are counted tokens (``counts`` total or input+output, times the plan's multiplier,
rounded up once per window) or nano-USD. Pure: a ``QuotaReader`` supplies the stored state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from llmledger.events import UsageEvent
from llmledger.quota.meter import Meter, add_on
from llmledger.quota.periods import Window, counter_range, month_at, previous_month, window_at
from llmledger.quota.plans import NANOS_PER_USD, CountMode, Plan, Quotas
from llmledger.quota.records import Budget, CounterRange, Counts, Grant, QuotaReader, subject

Unit = Literal["tokens", "usd"]


def units(counts: Counts, mode: CountMode, multiplier: float = 1.0) -> int:
    """What ``counts`` count against a limit counted in ``mode``: tokens or nano-USD, times
    the multiplier, rounded up."""
    if mode == "total":
        base = counts.total_tokens
    elif mode == "input+output":
        base = counts.io_tokens
    else:
        base = counts.cost_nanos
    if multiplier == 1.0:
        return base
    return math.ceil(Decimal(base) * Decimal(repr(multiplier)))


def amount(value: int, unit: Unit) -> int | float:
    """Units as people read them: tokens, or USD (from nano-USD)."""
    return value / NANOS_PER_USD if unit == "usd" else value


@dataclass(frozen=True)
class Subject:
    """Who a request is for: the ids the gateway knows (any may be None)."""

    user_id: str | None = None
    org_id: str | None = None
    key_id: str | None = None
    model: str | None = None

    @classmethod
    def of(cls, event: UsageEvent) -> Subject:
        return cls(event.user_id, event.org_id, event.api_key_id, event.model)

    @property
    def user(self) -> str | None:
        return subject("user", self.user_id) if self.user_id else None

    @property
    def org(self) -> str | None:
        return subject("org", self.org_id) if self.org_id else None

    def subjects(self) -> list[str]:
        """Its quota subjects: ``user:…``, ``org:…``, ``key:…``, ``model:…``."""
        pairs = (("user", self.user_id), ("org", self.org_id), ("key", self.key_id))
        found = [subject(kind, ident) for kind, ident in pairs if ident]
        if self.model:
            found.append(subject("model", self.model))
        return found


@dataclass(frozen=True)
class Limit:
    """One limit a subject is held to in one window."""

    key: str  # "plan:user:u1", "budget:<id>:tokens", "budget:<id>:usd"
    kind: Literal["plan", "budget"]
    name: str  # the plan's name or the budget's id
    subject: str
    window: Window
    counter: CounterRange
    mode: CountMode
    multiplier: float
    limit: int  # units
    hard: bool
    thresholds: tuple[int, ...]
    allowance: int = 0  # a plan's monthly units, without add-ons

    @property
    def unit(self) -> Unit:
        return "usd" if self.mode == "cost" else "tokens"

    def units(self, counts: Counts) -> int:
        return units(counts, self.mode, self.multiplier)


@dataclass(frozen=True)
class PlanMeter:
    """A subject's plan limit with the meter the summary shows."""

    limit: Limit
    meter: Meter


def _counter(subject_id: str, window: Window, quotas: Quotas) -> CounterRange:
    first, last = counter_range(window, quotas.zone)
    return CounterRange(subject_id, first, last)


def plan_limit(
    reader: QuotaReader, quotas: Quotas, subject_id: str, plan_name: str | None, at: datetime
) -> Limit:
    """``subject_id``'s plan (assigned, or the default) as a limit in the month at ``at``:
    the plan's allowance plus the add-ons of that month."""
    name, plan = quotas.plan(plan_name)
    month = month_at(at, quotas.zone)
    allowance = quotas.allowance(plan)
    grants = reader.grants(subject_id)
    extra = _add_on(reader, quotas, subject_id, plan, grants, month, allowance, at)
    return Limit(
        key=f"plan:{subject_id}",
        kind="plan",
        name=name,
        subject=subject_id,
        window=month,
        counter=_counter(subject_id, month, quotas),
        mode=quotas.settings.counts,
        multiplier=plan.multiplier,
        limit=allowance + extra,
        hard=plan.overage == "block",
        thresholds=quotas.settings.alert_thresholds,
        allowance=allowance,
    )


def plan_meter(
    reader: QuotaReader, quotas: Quotas, subject_id: str, plan_name: str | None, at: datetime
) -> PlanMeter:
    """``plan_limit`` with the meter the usage summary shows."""
    limit = plan_limit(reader, quotas, subject_id, plan_name, at)
    (counts,) = reader.counts([limit.counter])
    plan = quotas.plans[limit.name]
    extra = limit.limit - limit.allowance
    meter = Meter(
        limit.name, plan, limit.mode, limit.window, limit.units(counts), limit.allowance, extra
    )
    return PlanMeter(limit, meter)


def _add_on(
    reader: QuotaReader,
    quotas: Quotas,
    subject_id: str,
    plan: Plan,
    grants: list[Grant],
    month: Window,
    allowance: int,
    at: datetime,
) -> int:
    if not grants:
        return 0
    earlier: list[Window] = []
    used_by_month: dict[str, int] = {}
    if quotas.settings.rollover:
        first = min(grant.granted_at for grant in grants)
        window = month
        while window.start > first:
            window = previous_month(window, quotas.zone)
            earlier.insert(0, window)
        ranges = [_counter(subject_id, w, quotas) for w in earlier]
        for window, counts in zip(earlier, reader.counts(ranges)):
            used_by_month[window.key] = units(counts, quotas.settings.counts, plan.multiplier)
    return add_on(
        grants,
        month,
        allowance,
        used_by_month,
        earlier,
        rollover=quotas.settings.rollover,
        now=at,
    )


def metered_subjects(who: Subject, assigned: dict[str, str]) -> list[str]:
    """The subjects whose plan meters hold a request (see the module docstring)."""
    own = [s for s in (who.user, who.org) if s is not None and s in assigned]
    if own:
        return own
    fallback = who.user or who.org
    return [fallback] if fallback else []


def budget_limits(budget: Budget, quotas: Quotas, at: datetime) -> list[Limit]:
    """A budget's limits (tokens and/or USD) in its window at ``at``."""
    window = window_at(budget.window, at, quotas.zone)
    token_mode: CountMode = "total" if quotas.settings.counts == "cost" else quotas.settings.counts
    measures: list[tuple[str, CountMode, int]] = []
    if budget.tokens is not None:
        measures.append(("tokens", token_mode, budget.tokens))
    if budget.cost_nanos is not None:
        measures.append(("usd", "cost", budget.cost_nanos))
    return [
        Limit(
            key=f"budget:{budget.id}:{measure}",
            kind="budget",
            name=budget.id,
            subject=budget.subject,
            window=window,
            counter=_counter(budget.subject, window, quotas),
            mode=mode,
            multiplier=1.0,
            limit=value,
            hard=budget.hard,
            thresholds=budget.thresholds,
        )
        for measure, mode, value in measures
    ]


def limits_for(reader: QuotaReader, quotas: Quotas, who: Subject, at: datetime) -> list[Limit]:
    """Every limit on a request: its plan meters, then its budgets."""
    candidates = [s for s in (who.user, who.org) if s is not None]
    assigned = reader.assigned_plans(candidates)
    limits = [
        plan_limit(reader, quotas, s, assigned.get(s), at) for s in metered_subjects(who, assigned)
    ]
    for budget in reader.budgets(who.subjects()):
        limits.extend(budget_limits(budget, quotas, at))
    return limits


@dataclass(frozen=True)
class Usage:
    """A limit with what is used of it and what open reservations hold."""

    limit: Limit
    used: int
    held: int = 0

    @property
    def percent(self) -> float | int:
        """used / limit × 100 (two decimals, whole numbers stay whole); 0 for no limit."""
        if self.limit.limit <= 0:
            return 0
        value = round(self.used * 100 / self.limit.limit, 2)
        return int(value) if value == int(value) else value

    @property
    def exhausted(self) -> bool:
        """Nothing left once what is held is counted: a hard limit refuses the next request."""
        return self.used + self.held >= self.limit.limit


_NOTHING_HELD = Counts()


def usages(
    limits: Sequence[Limit], counts: Sequence[Counts], held: dict[str, Counts]
) -> list[Usage]:
    return [
        Usage(limit, limit.units(c), limit.units(held.get(limit.subject, _NOTHING_HELD)))
        for limit, c in zip(limits, counts)
    ]

"""A user's (or org's) monthly meter: what counts against the plan, the add-ons that extend it,
and the summary the usage API, ``llmledger usage`` and ``Ledger.usage_summary`` return.

Pure: callers pass the events' counted units per month and the grants; storage lives elsewhere.
Counted units are whole tokens (weighted by the plan's multiplier, rounded up, as the original
app's ``ceil``), or nano-USD when the quotas count cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from llmledger.events import UsageEvent
from llmledger.quota.periods import Window
from llmledger.quota.plans import NANOS_PER_USD, CountMode, Plan
from llmledger.quota.records import Grant

_FAR = datetime.max.replace(year=9999)


def counted(event: UsageEvent, counts: CountMode, multiplier: float = 1.0) -> int:
    """What one event counts against a plan: tokens (or nano-USD) times the multiplier,
    rounded up. An unpriced event counts 0 in cost mode (its cost is unknown, never guessed)."""
    if counts == "total":
        base = event.total_tokens
    elif counts == "input+output":
        base = event.input_tokens + event.output_tokens
    else:
        base = event.cost_nanos or 0
    if multiplier == 1.0:
        return base
    return math.ceil(Decimal(base) * Decimal(repr(multiplier)))


def _expired_by(grant: Grant, moment: datetime) -> bool:
    return grant.expires_at is not None and grant.expires_at <= moment


def _spend_order(grant: Grant) -> tuple[datetime, datetime]:
    # Use the grant that expires first, then the oldest.
    expires = grant.expires_at.replace(tzinfo=None) if grant.expires_at else _FAR
    return expires, grant.granted_at.replace(tzinfo=None)


def add_on(
    grants: Iterable[Grant],
    month: Window,
    allowance: int,
    used_by_month: Mapping[str, int],
    earlier_months: list[Window],
    *,
    rollover: bool,
    now: datetime,
) -> int:
    """The add-on part of ``month``'s limit at ``now``.

    Without rollover: the grants made in this month that have not expired. With rollover, also
    what is left of earlier unexpired grants: each earlier month's use beyond its plan
    allowance spends the grants active then, soonest-expiring first (``earlier_months`` oldest
    first, ``used_by_month`` their counted use by key).
    """
    grants = sorted(grants, key=_spend_order)
    if not rollover:
        return sum(g.units for g in grants if month.contains(g.granted_at) and g.active(now))
    left = {g.id: g.units for g in grants}
    for earlier in earlier_months:
        overflow = max(0, used_by_month.get(earlier.key, 0) - allowance)
        for grant in grants:
            if overflow == 0:
                break
            if grant.granted_at < earlier.end and not _expired_by(grant, earlier.start):
                spent = min(left[grant.id], overflow)
                left[grant.id] -= spent
                overflow -= spent
    return sum(left[g.id] for g in grants if g.granted_at < month.end and g.active(now))


@dataclass(frozen=True)
class Meter:
    """One subject's meter for one month, in counted units."""

    plan_name: str
    plan: Plan
    counts: CountMode
    month: Window
    used: int
    allowance: int
    add_on: int

    @property
    def limit(self) -> int:
        return self.allowance + self.add_on

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def overage(self) -> int:
        return max(0, self.used - self.limit)

    @property
    def has_access(self) -> bool:
        return self.used < self.limit or self.plan.overage == "allow"

    @property
    def percent(self) -> float | int:
        """used / limit × 100, two decimals (a whole number stays whole); 0 for no limit."""
        if self.limit <= 0:
            return 0
        value = round(self.used * 100 / self.limit, 2)
        return int(value) if value == int(value) else value

    def summary(self) -> dict[str, Any]:
        """The usage API's ``summary`` object (the original app's fields first)."""
        unit = _usd if self.counts == "cost" else int
        return {
            "month": self.month.key,
            "used": unit(self.used),
            "limit": unit(self.limit),
            "remaining": unit(self.remaining),
            "percent": self.percent,
            "addOn": unit(self.add_on),
            "plan": self.plan_name,
            "unit": "usd" if self.counts == "cost" else "tokens",
            "resetsAt": _iso(self.month.end),
            "overage": unit(self.overage),
            "hasAccess": self.has_access,
        }


def _usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["Grant", "Meter", "add_on", "counted"]

"""What the gateway gets back from the quota service: a request's bound (``Estimate``), the
holds of an admitted request (``Reservation``), and why one was refused (``Refusal``, with the
429 body), wrapped in an ``Admission``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llmledger.quota.limits import Limit, Subject, Unit, Usage, amount
from llmledger.quota.records import Budget, Hold

__all__ = ["Admission", "Estimate", "Refusal", "Reservation", "budget_row", "refusal"]

_ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly", "total": "all-time"}


def iso(moment: datetime | None) -> str:
    """``2026-02-01T00:00:00Z`` ("" for None)."""
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Estimate:
    """What a request may use at most: estimated prompt tokens + its max output, and the
    cost of that (nano-USD; 0 when unknown)."""

    tokens: int
    cost_nanos: int = 0


@dataclass(frozen=True)
class Reservation:
    """An admitted request's holds; hand it to ``settle`` or ``release``."""

    request_id: str
    subject: Subject
    holds: tuple[Hold, ...]
    expires_at: datetime
    limits: tuple[Limit, ...] = ()  # what it was admitted under (settle checks their alerts)


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: the first hard limit with no room left."""

    limit_key: str
    kind: str  # "plan" or "budget"
    name: str  # the plan's name or the budget's id
    subject: str
    window: str  # "day", "week", "month", "total"
    window_key: str
    unit: Unit
    limit: int | float  # tokens, or USD
    used: int | float
    reserved: int | float  # held by requests in flight
    resets_at: datetime | None

    @property
    def message(self) -> str:
        what = f"plan {self.name!r}" if self.kind == "plan" else f"budget {self.name!r}"
        unit = "USD" if self.unit == "usd" else "tokens"
        held = f" (+{self.reserved:,} held by requests in flight)" if self.reserved else ""
        when = f"; resets at {iso(self.resets_at)}" if self.resets_at else ""
        return (
            f"{_ADJECTIVE[self.window]} limit of {what} for {self.subject} reached: "
            f"{self.used:,} of {self.limit:,} {unit} used{held}{when}"
        )

    def error(self) -> dict[str, Any]:
        """The 429 body: ``{"error": {"type": "budget_exceeded", …}}``."""
        return {
            "error": {
                "type": "budget_exceeded",
                "message": self.message,
                "limit": self.limit,
                "used": self.used,
                "resets_at": iso(self.resets_at) if self.resets_at else None,
            }
        }


@dataclass(frozen=True)
class Admission:
    reservation: Reservation | None
    refusal: Refusal | None = None

    @property
    def admitted(self) -> bool:
        return self.reservation is not None


def refusal(usage: Usage) -> Refusal:
    limit = usage.limit
    return Refusal(
        limit_key=limit.key,
        kind=limit.kind,
        name=limit.name,
        subject=limit.subject,
        window=limit.window.kind,
        window_key=limit.window.key,
        unit=limit.unit,
        limit=amount(limit.limit, limit.unit),
        used=amount(usage.used, limit.unit),
        reserved=amount(usage.held, limit.unit),
        resets_at=limit.window.resets_at,
    )


def budget_row(budget: Budget, usage: Usage) -> dict[str, Any]:
    limit = usage.limit
    return {
        "id": budget.id,
        "scope": budget.scope,
        "scopeId": budget.scope_id,
        "window": budget.window,
        "windowKey": limit.window.key,
        "unit": limit.unit,
        "limit": amount(limit.limit, limit.unit),
        "used": amount(usage.used, limit.unit),
        "remaining": amount(max(0, limit.limit - usage.used), limit.unit),
        "percent": usage.percent,
        "resetsAt": iso(limit.window.resets_at) or None,
        "hard": budget.hard,
        "thresholds": list(budget.thresholds),
        "note": budget.note,
    }

"""Soft thresholds: an alert fires once when a limit's use reaches a threshold (80 % and 100 %
by default) in a window, and resolves once when use falls below it again (an add-on, a
bigger plan). A threshold that resolved fires again if it is crossed again; the next window
starts with none fired. The stored ``AlertState`` makes "once" hold across processes: only
the call that changes the state delivers the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from llmledger.quota.limits import Unit, Usage, amount
from llmledger.quota.records import AlertState

AlertKind = Literal["fired", "resolved"]


@dataclass(frozen=True)
class AlertEvent:
    """An alert to deliver: a log line, an event on the live stream, a webhook POST."""

    state: AlertKind
    limit_key: str  # "plan:user:u1", "budget:<id>:tokens", "budget:<id>:usd"
    kind: Literal["plan", "budget"]
    name: str  # plan name or budget id
    subject: str  # "user:u1"
    window: str  # the window's key: "2026-01", "2026-W05", "2026-01-31", "total"
    threshold: int  # percent
    used: int | float
    limit: int | float
    unit: Unit
    percent: int | float
    at: datetime

    @property
    def message(self) -> str:
        what = f"plan {self.name}" if self.kind == "plan" else f"budget {self.name}"
        used, limit = _say(self.used, self.unit), _say(self.limit, self.unit)
        if self.state == "fired":
            return (
                f"{self.subject} reached {self.threshold}% of {what} in {self.window}: "
                f"{used} of {limit} ({self.percent}%)"
            )
        return (
            f"{self.subject} is below {self.threshold}% of {what} in {self.window} again: "
            f"{used} of {limit} ({self.percent}%)"
        )

    def to_dict(self) -> dict[str, object]:
        """JSON fields (camelCase, as the usage API's)."""
        return {
            "state": self.state,
            "limitKey": self.limit_key,
            "kind": self.kind,
            "name": self.name,
            "subject": self.subject,
            "window": self.window,
            "threshold": self.threshold,
            "used": self.used,
            "limit": self.limit,
            "unit": self.unit,
            "percent": self.percent,
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "message": self.message,
        }


def _say(value: int | float, unit: Unit) -> str:
    return f"${value:,.2f}" if unit == "usd" else f"{value:,} tokens"


def _crossed(usage: Usage, threshold: int) -> bool:
    limit = usage.limit.limit
    return limit > 0 and usage.used * 100 >= threshold * limit


def changes(
    usages: Sequence[Usage], states: Sequence[AlertState], at: datetime
) -> list[tuple[AlertState, AlertEvent]]:
    """The alert states to store and the events they deliver, for ``usages`` at ``at``."""
    known = {(s.limit_key, s.window, s.threshold): s for s in states}
    found: list[tuple[AlertState, AlertEvent]] = []
    for usage in usages:
        limit = usage.limit
        for threshold in limit.thresholds:
            state = known.get((limit.key, limit.window.key, threshold))
            is_open = state is not None and state.resolved_at is None
            crossed = _crossed(usage, threshold)
            if crossed == is_open:
                continue
            kind: AlertKind = "fired" if crossed else "resolved"
            stored = AlertState(
                limit_key=limit.key,
                window=limit.window.key,
                threshold=threshold,
                fired_at=at if crossed or state is None else state.fired_at,
                resolved_at=None if crossed else at,
                used=usage.used,
                limit=limit.limit,
            )
            event = AlertEvent(
                state=kind,
                limit_key=limit.key,
                kind=limit.kind,
                name=limit.name,
                subject=limit.subject,
                window=limit.window.key,
                threshold=threshold,
                used=amount(usage.used, limit.unit),
                limit=amount(limit.limit, limit.unit),
                unit=limit.unit,
                percent=usage.percent,
                at=at,
            )
            found.append((stored, event))
    return found


__all__ = ["AlertEvent", "AlertKind", "changes"]

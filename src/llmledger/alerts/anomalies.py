"""What the ledger says is unusual, as alerts (pure over what the Ledger returns):

- **spend spike**: today's cost (UTC) at least ``spend_spike_factor`` times the average of the
  ``trailing_days`` before it, and at least ``spend_spike_min_usd``; once a day.
- **unpriced model**: a model with unpriced usage today that had none in the trailing days
  (its cost is in no total until it gets a price); once per model and day.
- **upstream errors**: an upstream account whose requests in the last hour failed at least
  ``upstream_min_failures`` times and at a rate of ``upstream_error_rate`` or more; once per
  account and hour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from llmledger.alerts.model import Alert
from llmledger.alerts.settings import AnomalyLimits
from llmledger.ledger import Ledger
from llmledger.query import EventFilter, GroupRow

__all__ = ["find_anomalies", "new_unpriced_models", "spend_spike", "upstream_errors"]


def spend_spike(summary: Mapping[str, Any], limits: AnomalyLimits) -> Alert | None:
    """From ``Ledger.summary(days=trailing_days + 1, tz="UTC")``."""
    today = summary["until"]
    costs = {row["date"]: float(row["totalCost"]) for row in summary["daily"]}
    spent = costs.pop(today, 0.0)
    if not costs:  # no history to compare with
        return None
    average = sum(costs.values()) / limits.trailing_days
    if spent < limits.spend_spike_min_usd or spent < limits.spend_spike_factor * average:
        return None
    times = spent / average if average else float("inf")
    said = f"{times:.1f}x" if average else "far above"
    return Alert(
        id=f"anomaly:spend_spike:{today}",
        kind="anomaly.spend_spike",
        severity="warning",
        title=f"Spend today is {said} the {limits.trailing_days}-day average",
        message=(
            f"${spent:,.2f} spent on {today} (UTC) against an average of ${average:,.2f} a day "
            f"over the {limits.trailing_days} days before"
        ),
        at=datetime.now(timezone.utc),
        details={"date": today, "spentUsd": round(spent, 6), "averageUsd": round(average, 6)},
    )


def new_unpriced_models(summary: Mapping[str, Any]) -> list[Alert]:
    """Models unpriced today and not in the days before (same summary as ``spend_spike``)."""
    today = summary["until"]
    before: set[str] = set()
    now: list[str] = []
    for row in summary["daily"]:
        if row["date"] == today:
            now = list(row["unpricedModels"])
        else:
            before.update(row["unpricedModels"])
    return [
        Alert(
            id=f"anomaly:unpriced_model:{model}:{today}",
            kind="anomaly.unpriced_model",
            severity="warning",
            title=f"Model {model} has no price",
            message=(
                f"Usage of {model} was recorded today without a price, so its cost is in no "
                "total. Add it under [pricing.models] in the config, then run llmledger reprice."
            ),
            at=datetime.now(timezone.utc),
            details={"model": model, "date": today},
        )
        for model in sorted(set(now) - before)
    ]


def upstream_errors(rows: Sequence[GroupRow], now: datetime, limits: AnomalyLimits) -> list[Alert]:
    """From ``Ledger.aggregate`` by account over the last ``upstream_window_minutes``."""
    hour = now.astimezone(timezone.utc).strftime("%Y%m%dT%H")
    found = []
    for row in rows:
        account = row.key.get("account")
        failed, requests = row.totals.failed, row.totals.requests
        if not account or requests == 0 or failed < limits.upstream_min_failures:
            continue
        rate = failed / requests
        if rate < limits.upstream_error_rate:
            continue
        found.append(
            Alert(
                id=f"anomaly:upstream_errors:{account}:{hour}",
                kind="anomaly.upstream_errors",
                severity="critical",
                title=f"Upstream account {account} is failing",
                message=(
                    f"{failed} of {requests} requests through {account} failed in the last "
                    f"{limits.upstream_window_minutes} minutes ({rate:.0%})"
                ),
                at=now.astimezone(timezone.utc),
                details={"account": account, "failed": failed, "requests": requests},
            )
        )
    return found


def find_anomalies(
    ledger: Ledger, limits: AnomalyLimits, now: datetime | None = None
) -> list[Alert]:
    """Every anomaly the ledger shows now."""
    now = now or datetime.now(timezone.utc)
    summary = ledger.summary(days=limits.trailing_days + 1, tz="UTC")
    found = [*new_unpriced_models(summary)]
    spike = spend_spike(summary, limits)
    if spike is not None:
        found.insert(0, spike)
    since = now - timedelta(minutes=limits.upstream_window_minutes)
    window = EventFilter(
        since_us=int(since.timestamp() * 1_000_000), until_us=int(now.timestamp() * 1_000_000) + 1
    )
    found.extend(upstream_errors(ledger.aggregate(window, ["account"]), now, limits))
    return found

"""Finding alerts to deliver: the quota layer's threshold alerts (read back from their stored
states, so alerts fired by any process on this ledger are found) and the anomalies; and the
loop of ``llmledger alerts watch`` that checks every ``interval`` seconds.

In a process that already holds the QuotaBook (the gateway), ``subscribe_quota_alerts``
hands each alert to delivery the moment it fires, without waiting for the next check; ids
are the same either way, so a channel gets it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import msgspec

from llmledger.alerts.anomalies import find_anomalies
from llmledger.alerts.delivery import AlertDispatcher, DeliveryResult
from llmledger.alerts.model import Alert, from_quota_event, from_quota_state
from llmledger.alerts.settings import AlertSettings
from llmledger.ledger import Ledger
from llmledger.quota.alerts import AlertEvent

__all__ = ["AlertWatch", "quota_alerts", "quotas_in_use", "subscribe_quota_alerts"]

log = logging.getLogger("llmledger.alerts")


def quotas_in_use(ledger: Ledger) -> bool:
    """Plans or budgets are configured (reading alert states otherwise would switch on the
    quota counters of a ledger that does not need them)."""
    raw = ledger.config.raw
    return "quotas" in raw or "plans" in raw


def quota_alerts(ledger: Ledger, since: datetime) -> list[Alert]:
    """Threshold alerts fired or resolved at or after ``since``."""
    found = []
    for state in ledger.quotas.alerts(open_only=False):
        if state.fired_at >= since:
            found.append(from_quota_state(msgspec.structs.replace(state, resolved_at=None)))
        if state.resolved_at is not None and state.resolved_at >= since:
            found.append(from_quota_state(state))
    return sorted(found, key=lambda alert: alert.at)


def subscribe_quota_alerts(ledger: Ledger, dispatcher: AlertDispatcher) -> Callable[[], None]:
    """Deliver each quota alert as it fires in this process; returns the unsubscribe."""

    def deliver(event: AlertEvent) -> None:
        dispatcher.submit(from_quota_event(event))

    return ledger.quotas.subscribe(deliver)


class AlertWatch:
    """Checks the ledger for alerts and delivers the new ones."""

    def __init__(
        self,
        ledger: Ledger,
        settings: AlertSettings,
        dispatcher: AlertDispatcher,
        *,
        lookback: timedelta = timedelta(hours=1),
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.dispatcher = dispatcher
        # Quota alerts older than this at the first check are history, not news.
        self.since = datetime.now(timezone.utc) - lookback

    def find(self) -> list[Alert]:
        found = quota_alerts(self.ledger, self.since) if quotas_in_use(self.ledger) else []
        return found + find_anomalies(self.ledger, self.settings.anomalies)

    async def check(self) -> list[DeliveryResult]:
        """One round: find alerts (in a thread: SQLite) and deliver them."""
        alerts = await asyncio.to_thread(self.find)
        return await self.dispatcher.deliver(alerts)

    async def run(self, stop: asyncio.Event, interval: float = 30.0) -> None:
        while not stop.is_set():
            try:
                results = await self.check()
            except Exception:  # a bad round must not end the watch
                log.exception("alerts: the check failed; trying again in %.0f s", interval)
            else:
                for result in results:
                    if not result.duplicate:
                        log.info(
                            "alert %s to %s: %s",
                            result.alert_id,
                            result.channel,
                            "delivered" if result.delivered else f"failed ({result.error})",
                        )
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except asyncio.TimeoutError:
                continue

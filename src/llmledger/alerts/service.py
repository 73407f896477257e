"""Alerts inside a long-running process (the gateway): quota alerts delivered the moment they
fire in this process, and the watch's checks (anomalies, and quota alerts other processes
fired) every ``[alerts] check_interval_seconds`` (60). Off, at the cost of one config read,
without ``[[alerts.channels]]``."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

from llmledger.alerts.delivery import AlertDispatcher, DeliveryLog
from llmledger.alerts.settings import AlertSettings, alert_settings
from llmledger.alerts.watch import AlertWatch, quotas_in_use, subscribe_quota_alerts
from llmledger.ledger import Ledger

__all__ = ["AlertService"]


class AlertService:
    def __init__(self, ledger: Ledger, settings: AlertSettings) -> None:
        self.ledger = ledger
        self.settings = settings
        self.interval = settings.check_interval
        self.dispatcher = AlertDispatcher(
            settings.channels, policy=settings.policy, record=DeliveryLog(settings.state_dir)
        )
        self._unsubscribe: Callable[[], None] | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_ledger(cls, ledger: Ledger) -> AlertService | None:
        """The service the ledger's config asks for, or None (a ConfigError names a bad key)."""
        settings = alert_settings(ledger.config, os.environ)
        return cls(ledger, settings) if settings.channels else None

    async def start(self) -> None:
        self.dispatcher.start()
        if quotas_in_use(self.ledger):
            self._unsubscribe = subscribe_quota_alerts(self.ledger, self.dispatcher)
        watch = AlertWatch(self.ledger, self.settings, self.dispatcher)
        self._task = asyncio.get_running_loop().create_task(watch.run(self._stop, self.interval))

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 30)
        await asyncio.to_thread(self.dispatcher.close)

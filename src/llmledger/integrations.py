"""What ``llmledger serve`` hosts beside the gateway when the config asks for it: alert
delivery (``[[alerts.channels]]``, alerts/service.py) and the Telegram bot's webhook
(``[telegram]`` with a webhook secret, telegram/webhook.py). Neither costs anything when
not configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from llmledger.errors import ConfigError
from llmledger.ledger import Ledger

if TYPE_CHECKING:
    from llmledger.alerts.service import AlertService
    from llmledger.telegram.webhook import TelegramWebhook

__all__ = ["Integrations"]


def _telegram_webhook(ledger: Ledger) -> TelegramWebhook | None:
    raw = ledger.config.raw.get("telegram")
    if not isinstance(raw, dict) or not (
        raw.get("webhook_secret") or raw.get("webhook_secret_env")
    ):
        return None
    try:
        from llmledger.telegram.webhook import TelegramWebhook
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "telegram":
            from llmledger.telegram.settings import INSTALL_HINT

            raise ConfigError(INSTALL_HINT) from None
        raise
    return TelegramWebhook.for_ledger(ledger)


class Integrations:
    def __init__(self, alerts: AlertService | None, telegram: TelegramWebhook | None) -> None:
        self.alerts = alerts
        self.telegram = telegram

    @classmethod
    def for_ledger(cls, ledger: Ledger) -> Integrations:
        """What the ledger's config turns on; a ConfigError names a bad key."""
        alerts = None
        if "alerts" in ledger.config.raw:
            from llmledger.alerts.service import AlertService

            alerts = AlertService.for_ledger(ledger)
        return cls(alerts, _telegram_webhook(ledger))

    @property
    def routes(self) -> list[Route]:
        return self.telegram.routes() if self.telegram is not None else []

    async def start(self) -> None:
        if self.alerts is not None:
            await self.alerts.start()
        if self.telegram is not None:
            await self.telegram.start()

    async def close(self) -> None:
        if self.telegram is not None:
            await self.telegram.close()
        if self.alerts is not None:
            await self.alerts.close()

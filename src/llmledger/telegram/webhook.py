"""The bot behind ``llmledger serve``: Telegram POSTs each update to ``webhook_path`` with the
secret token in ``X-Telegram-Bot-Api-Secret-Token``; the update is queued for the same
handlers as long polling and answered 200 at once (Telegram resends what is not answered).
On when ``[telegram]`` has a webhook secret; register the URL with
``llmledger telegram --set-webhook URL``."""

from __future__ import annotations

import hmac
import json
import logging
import os

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update

from llmledger.errors import ConfigError
from llmledger.ledger import Ledger
from llmledger.telegram.bot import UsageBot, hide_token
from llmledger.telegram.settings import TelegramSettings, telegram_settings

__all__ = ["TelegramWebhook"]

log = logging.getLogger("llmledger.telegram")

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_UPDATE_BYTES = 1 << 20


class TelegramWebhook:
    def __init__(self, settings: TelegramSettings, ledger: Ledger) -> None:
        if not settings.webhook_secret:
            raise ConfigError("telegram: a webhook needs webhook_secret or webhook_secret_env")
        self.settings = settings
        self.secret = settings.webhook_secret.encode()
        self.bot = UsageBot(settings, ledger)
        hide_token(settings.token)

    @classmethod
    def for_ledger(cls, ledger: Ledger) -> TelegramWebhook | None:
        """The webhook the ledger's config asks for (``[telegram]`` with a webhook secret)."""
        raw = ledger.config.raw.get("telegram")
        if not isinstance(raw, dict) or not (
            raw.get("webhook_secret") or raw.get("webhook_secret_env")
        ):
            return None
        return cls(telegram_settings(ledger.config, os.environ), ledger)

    def routes(self) -> list[Route]:
        return [Route(self.settings.webhook_path, self.receive, methods=["POST"])]

    async def start(self) -> None:
        app = self.bot.application
        await app.initialize()
        await app.start()  # consumes the update queue

    async def close(self) -> None:
        app = self.bot.application
        if app.running:
            await app.stop()
        await app.shutdown()

    async def receive(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            return JSONResponse({"ok": False, "error": "wrong secret token"}, status_code=403)
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return JSONResponse({"ok": False, "error": "update too large"}, status_code=413)
        try:
            data = json.loads(body)
        except ValueError:
            return JSONResponse({"ok": False, "error": "the body is not JSON"}, status_code=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return JSONResponse({"ok": False, "error": "not a Telegram update"}, status_code=400)
        update = Update.de_json(data, self.bot.application.bot)
        await self.bot.application.update_queue.put(update)
        return JSONResponse({"ok": True})

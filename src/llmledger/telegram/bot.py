"""The bot itself, on python-telegram-bot: long polling, one handler per command, replies sent
with retries (Telegram's 429 ``retry_after``, network drops), the token kept out of every log.

Ledger reads are blocking SQLite calls, so each runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from llmledger.errors import ConfigError
from llmledger.ledger import Ledger
from llmledger.telegram import render
from llmledger.telegram.settings import TelegramSettings

__all__ = ["TokenRedactor", "UsageBot", "hide_token", "send_text"]

log = logging.getLogger("llmledger.telegram")

SEND_ATTEMPTS = 5
MAX_RETRY_AFTER = 60.0  # seconds; a longer flood wait drops the reply instead of hanging
BACKOFF = (0.5, 1.0, 2.0, 4.0)

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[object, object, None]]


class TokenRedactor(logging.Filter):
    """Replaces the bot token in every log line (httpx logs each request URL, which holds it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if self.token in text:  # the traceback would print it: keep the words only
                record.msg = f"{record.getMessage()}: {text.replace(self.token, '<token>')}"
                record.args, record.exc_info, record.exc_text = None, None, None
        return True


def hide_token(token: str) -> None:
    """Keep ``token`` out of every handler of the root logger (where all records end up)."""
    redactor = TokenRedactor(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int vs timedelta: PTB 22.2 deprecates the int
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def send_text(
    send: Callable[[], Awaitable[object]], what: str, *, attempts: int = SEND_ATTEMPTS
) -> bool:
    """Call ``send`` until Telegram takes it: wait ``retry_after`` on a 429, back off on a
    network error; give up (logged, False) on a refusal or after ``attempts``."""
    for attempt in range(attempts):
        try:
            await send()
            return True
        except RetryAfter as exc:
            delay = _retry_seconds(exc)
            if delay > MAX_RETRY_AFTER:
                log.warning("telegram: %s dropped: flood wait of %.0f s", what, delay)
                return False
            log.info("telegram: rate limited, retrying %s in %.1f s", what, delay)
        except (BadRequest, Forbidden) as exc:  # BadRequest is a NetworkError: test it first
            log.warning("telegram: %s refused: %s", what, exc)
            return False
        except NetworkError as exc:
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            log.info("telegram: network error on %s (%s), retrying in %.1f s", what, exc, delay)
        except TelegramError as exc:
            log.warning("telegram: %s failed: %s", what, exc)
            return False
        await asyncio.sleep(delay)
    log.warning("telegram: %s not sent after %d attempts", what, attempts)
    return False


class UsageBot:
    """The commands over one ledger. ``run`` polls until ``stop`` is set."""

    def __init__(self, settings: TelegramSettings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.application: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(settings.token)
            .base_url(settings.api_url)
            .get_updates_connect_timeout(10)
            .build()
        )
        commands: dict[str, Handler] = {
            "token_usage": self.token_usage,
            "today": self.today,
            "models": self.models,
            "usage": self.usage,
            "help": self.help,
            "start": self.help,
        }
        for name, handler in commands.items():
            self.application.add_handler(CommandHandler(name, handler))
        self.application.add_error_handler(self._error)

    # -- running -------------------------------------------------------------------------------

    async def run(
        self,
        stop: asyncio.Event,
        *,
        poll_timeout: int = 30,
        ready: Callable[[str], None] | None = None,
    ) -> None:
        """Long polling until ``stop`` is set (``ready`` gets the bot's @name once it
        polls); a refused token is a ConfigError."""
        app = self.application
        try:
            await app.initialize()
        except InvalidToken:
            raise ConfigError(
                "Telegram refused the bot token (TELEGRAM_BOT_TOKEN or [telegram] token): "
                "check it with @BotFather"
            ) from None
        try:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=poll_timeout, allowed_updates=["message"], error_callback=self._poll_error
            )
            log.info("telegram: @%s polling for updates", app.bot.username)
            if ready is not None:
                ready(app.bot.username)
            await stop.wait()
        finally:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()

    def _poll_error(self, exc: TelegramError) -> None:
        # The updater retries by itself (with a growing pause); one line, no traceback.
        log.warning("telegram: polling failed (%s: %s), retrying", type(exc).__name__, exc)

    async def _error(self, update: object, context: Context) -> None:
        log.error("telegram: a command failed: %r", context.error)

    # -- replies -------------------------------------------------------------------------------

    async def _reply(self, update: Update, context: Context, messages: Sequence[str]) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        for index, text in enumerate(messages, 1):

            def send(text: str = text) -> Awaitable[object]:
                return context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)

            if not await send_text(send, f"reply {index}/{len(messages)} to chat {chat.id}"):
                return

    async def _admin(self, update: Update, context: Context) -> bool:
        user = update.effective_user
        if self.settings.is_admin(user.id if user else None):
            return True
        await self._reply(update, context, [render.refusal(user.id if user else None)])
        return False

    async def _days(self, command: str, update: Update, context: Context) -> int | None:
        args = list(context.args or [])
        days = render.parse_days(args)
        if days is None:
            await self._reply(update, context, [render.bad_days(command, " ".join(args))])
        return days

    # -- commands ------------------------------------------------------------------------------

    async def token_usage(self, update: Update, context: Context) -> None:
        if not await self._admin(update, context):
            return
        days = await self._days("token_usage", update, context)
        if days is None:
            return
        summary = await asyncio.to_thread(self.ledger.summary, days, tz=self.settings.timezone)
        await self._reply(update, context, render.token_usage_messages(summary))

    async def models(self, update: Update, context: Context) -> None:
        if not await self._admin(update, context):
            return
        days = await self._days("models", update, context)
        if days is None:
            return
        summary = await asyncio.to_thread(self.ledger.summary, days, tz=self.settings.timezone)
        await self._reply(update, context, render.models_messages(summary))

    async def today(self, update: Update, context: Context) -> None:
        if not await self._admin(update, context):
            return
        summary = await asyncio.to_thread(self.ledger.summary, 1, tz=self.settings.timezone)
        await self._reply(update, context, render.today_messages(summary))

    async def usage(self, update: Update, context: Context) -> None:
        user = update.effective_user
        telegram_id = user.id if user else None
        linked = self.settings.ledger_user(telegram_id)
        if linked is None:
            if self.settings.is_admin(telegram_id):
                text = (
                    "Your Telegram id is not linked to a ledger user: add it under "
                    "[telegram.users] in the config."
                )
            else:
                text = render.refusal(telegram_id)
            await self._reply(update, context, [text])
            return
        summary = await asyncio.to_thread(self.ledger.usage_summary, linked)
        await self._reply(update, context, [render.meter_text(summary, linked)])

    async def help(self, update: Update, context: Context) -> None:
        user = update.effective_user
        telegram_id = user.id if user else None
        if self.settings.is_admin(telegram_id):
            await self._reply(update, context, [render.help_text(admin=True)])
        elif self.settings.ledger_user(telegram_id) is not None:
            await self._reply(update, context, [render.help_text(admin=False)])
        else:
            await self._reply(update, context, [render.refusal(telegram_id)])

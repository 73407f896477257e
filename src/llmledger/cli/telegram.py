"""``telegram``: run the Telegram bot (``/token_usage [days]`` for admins, ``/usage`` for
linked users) by long polling, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmledger.cli.common import Parents, load_cli_config, open_ledger
from llmledger.errors import LedgerError
from llmledger.telegram.settings import INSTALL_HINT

if TYPE_CHECKING:
    from llmledger.telegram.bot import UsageBot
    from llmledger.telegram.settings import TelegramSettings


DESCRIPTION = """\
Run the Telegram bot over this ledger. Admins (ADMIN_USER_ID, a comma list of
Telegram user ids, or [telegram] admins) get /token_usage [days], /today and
/models [days]; users linked under [telegram.users] get /usage, their meter
this month. Everyone else gets a polite refusal. The token comes from
TELEGRAM_BOT_TOKEN or [telegram] token; it is never logged.
"""

EPILOG = """\
examples:
  TELEGRAM_BOT_TOKEN=123:ABC ADMIN_USER_ID=111,222 llmledger telegram
  llmledger telegram --config bot.toml -v     (docs/telegram.md: the config)
  llmledger telegram --set-webhook https://host/telegram/webhook
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "telegram",
        help="run the Telegram bot: /token_usage [days] for admins",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    webhook = parser.add_mutually_exclusive_group()
    webhook.add_argument(
        "--set-webhook",
        metavar="URL",
        help="have Telegram POST updates to URL (llmledger serve answers them at "
        "[telegram] webhook_path), then exit",
    )
    webhook.add_argument(
        "--delete-webhook", action="store_true", help="back to long polling, then exit"
    )
    parser.set_defaults(handler=run_telegram, ledger_access="read")


def run_telegram(args: argparse.Namespace) -> int:
    try:
        from llmledger.telegram.bot import UsageBot, hide_token
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "telegram":
            raise LedgerError(INSTALL_HINT) from None
        raise
    from llmledger.telegram.settings import telegram_settings

    settings = telegram_settings(load_cli_config(args), os.environ)
    hide_token(settings.token)
    if args.set_webhook or args.delete_webhook:
        return asyncio.run(_webhook(settings, args.set_webhook))
    with open_ledger(args) as ledger:
        bot = UsageBot(settings, ledger)

        def ready(name: str) -> None:
            admins = len(settings.admins)
            print(
                f"llmledger: Telegram bot @{name} is answering {admins} admin(s) and "
                f"{len(settings.users)} linked user(s); Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )

        asyncio.run(_until_signal(bot, ready))
    return 0


async def _webhook(settings: TelegramSettings, url: str | None) -> int:
    from telegram import Bot
    from telegram.error import TelegramError

    if url is not None and not settings.webhook_secret:
        raise LedgerError(
            "set [telegram] webhook_secret (or webhook_secret_env) first: Telegram sends it "
            "with every update so that llmledger serve can tell its updates from forgeries"
        )
    try:
        async with Bot(settings.token, base_url=settings.api_url) as bot:
            if url is None:
                await bot.delete_webhook()
            else:
                await bot.set_webhook(
                    url, secret_token=settings.webhook_secret, allowed_updates=["message"]
                )
    except TelegramError as exc:
        raise LedgerError(f"Telegram refused: {exc}") from None
    if url is None:
        print("llmledger: webhook deleted; `llmledger telegram` polls again", file=sys.stderr)
    else:
        print(f"llmledger: Telegram now POSTs updates to {url}", file=sys.stderr)
    return 0


async def _until_signal(bot: UsageBot, ready: Callable[[str], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, other threads
            loop.add_signal_handler(sig, stop.set)
    await bot.run(stop, ready=ready)

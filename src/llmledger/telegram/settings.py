"""Who the bot is and whom it answers: ``TELEGRAM_BOT_TOKEN`` / ``ADMIN_USER_ID`` in the
environment, or the config's ``[telegram]`` table (the environment wins)::

    [telegram]
    token = "123456:ABC..."        # from @BotFather
    admins = [111111111]           # Telegram user ids allowed the admin commands
    timezone = "Europe/Berlin"     # the days of the reports (default: the machine's zone)
    api_url = "https://api.telegram.org/bot"   # a Local Bot API server instead
    webhook_secret_env = "TELEGRAM_WEBHOOK_SECRET"  # on: `llmledger serve` takes updates at
    webhook_path = "/telegram/webhook"              # this path (register it: --set-webhook)

    [telegram.users]               # Telegram user id -> ledger user id, for /usage
    222222222 = "alice"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmledger.config import Config
from llmledger.errors import ConfigError

DEFAULT_API_URL = "https://api.telegram.org/bot"
INSTALL_HINT = "the Telegram bot needs python-telegram-bot: pip install 'llmledger[telegram]'"

__all__ = [
    "DEFAULT_API_URL",
    "INSTALL_HINT",
    "TelegramSettings",
    "parse_admins",
    "telegram_settings",
]


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(repr=False)  # never printed, never logged
    admins: frozenset[int] = frozenset()
    users: Mapping[int, str] = field(default_factory=dict)
    timezone: str | None = None
    api_url: str = DEFAULT_API_URL
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_path: str = "/telegram/webhook"

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    def ledger_user(self, user_id: int | None) -> str | None:
        return None if user_id is None else self.users.get(user_id)


def _user_id(value: Any, key: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.lstrip("-").isdigit():
        raise ConfigError(f"{key}: {value!r} is not a Telegram user id (a number)")
    return int(text)


def parse_admins(text: str, key: str = "ADMIN_USER_ID") -> frozenset[int]:
    """``"111, 222"`` -> {111, 222}; a ConfigError names ``key`` on anything else."""
    return frozenset(_user_id(part, key) for part in text.split(",") if part.strip())


def telegram_settings(config: Config, env: Mapping[str, str]) -> TelegramSettings:
    """The bot's settings; a ConfigError naming the missing or bad key."""
    raw = config.raw.get("telegram", {})
    if not isinstance(raw, Mapping):
        raise ConfigError("telegram: expected a table")
    known = {
        "token",
        "admins",
        "users",
        "timezone",
        "api_url",
        "webhook_secret",
        "webhook_secret_env",
        "webhook_path",
    }
    for name in raw:
        if name not in known:
            raise ConfigError(f"telegram.{name}: unknown key (known: {', '.join(sorted(known))})")
    token = env.get("TELEGRAM_BOT_TOKEN") or raw.get("token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigError(
            "no Telegram bot token: set TELEGRAM_BOT_TOKEN or [telegram] token in the config "
            "(get one from @BotFather)"
        )
    if env.get("ADMIN_USER_ID"):
        admins = parse_admins(env["ADMIN_USER_ID"])
    else:
        listed = raw.get("admins", [])
        if not isinstance(listed, list):
            listed = [listed]
        admins = frozenset(_user_id(item, "telegram.admins") for item in listed)
    users_raw = raw.get("users", {})
    if not isinstance(users_raw, Mapping):
        raise ConfigError("telegram.users: expected a table of Telegram id = ledger user id")
    users = {}
    for telegram_id, ledger_user in users_raw.items():
        if not isinstance(ledger_user, str) or not ledger_user:
            raise ConfigError(f"telegram.users.{telegram_id}: expected a ledger user id")
        users[_user_id(telegram_id, f"telegram.users.{telegram_id}")] = ledger_user
    timezone = raw.get("timezone")
    if timezone is not None and not isinstance(timezone, str):
        raise ConfigError("telegram.timezone: expected an IANA zone name")
    api_url = raw.get("api_url", DEFAULT_API_URL)
    if not isinstance(api_url, str) or not api_url.startswith(("http://", "https://")):
        raise ConfigError("telegram.api_url: expected an http(s) URL")
    secret, path = _webhook(raw, env)
    return TelegramSettings(
        token=token.strip(),
        admins=admins,
        users=users,
        timezone=timezone,
        api_url=api_url,
        webhook_secret=secret,
        webhook_path=path,
    )


def _webhook(raw: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str | None, str]:
    """The webhook's secret token (None: no webhook) and path."""
    secret = raw.get("webhook_secret")
    if raw.get("webhook_secret_env"):
        name = str(raw["webhook_secret_env"])
        secret = env.get(name)
        if not secret:
            raise ConfigError(f"telegram.webhook_secret_env: {name} is not set")
    if secret is not None and (
        not isinstance(secret, str) or not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret)
    ):
        raise ConfigError(
            "telegram.webhook_secret: 16 to 256 characters of A-Z, a-z, 0-9, _ and - "
            "(Telegram's rule for a secret token)"
        )
    path = raw.get("webhook_path", "/telegram/webhook")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigError("telegram.webhook_path: expected a path starting with /")
    return secret, path

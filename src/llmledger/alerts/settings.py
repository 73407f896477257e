"""The ``[alerts]`` config::

[alerts]
attempts = 5                  # sends per alert and channel before the dead-letter log
backoff_seconds = 1.0         # the first retry's wait; doubles each time (60 s at most)
state_dir = "/var/lib/llmledger/alerts"   # sent.jsonl, dead-letter.jsonl (default: data dir)
    check_interval_seconds = 60   # how often `llmledger serve` looks for anomalies
spend_spike_factor = 3.0      # today's cost above this many times the 14-day average...
spend_spike_min_usd = 1.0     # ...and above this much
upstream_error_rate = 0.5     # an account whose requests failed this often...
upstream_min_failures = 5     # ...at least this many times in the last hour

[[alerts.channels]]
type = "webhook"              # generic JSON, signed with HMAC-SHA256
url = "https://ops.example.com/hooks/llm"
secret_env = "LLMLEDGER_ALERT_SECRET"     # or secret = "..."

[[alerts.channels]]
type = "slack"
url = "https://hooks.slack.com/services/T000/B000/XXXX"

[[alerts.channels]]
type = "telegram"             # the bot's token and admins ([telegram], TELEGRAM_BOT_TOKEN,
chat_ids = [111111111]        # ADMIN_USER_ID); chat_ids default to the admins
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmledger.alerts.channels import Channel, SlackChannel, TelegramChannel, WebhookChannel
from llmledger.alerts.delivery import RetryPolicy
from llmledger.config import Config
from llmledger.errors import ConfigError
from llmledger.paths import data_dir

__all__ = ["AlertSettings", "AnomalyLimits", "alert_settings"]


@dataclass(frozen=True)
class AnomalyLimits:
    spend_spike_factor: float = 3.0
    spend_spike_min_usd: float = 1.0
    trailing_days: int = 14
    upstream_error_rate: float = 0.5
    upstream_min_failures: int = 5
    upstream_window_minutes: int = 60


@dataclass(frozen=True)
class AlertSettings:
    channels: tuple[Channel, ...] = ()
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    state_dir: Path | None = None
    anomalies: AnomalyLimits = field(default_factory=AnomalyLimits)
    check_interval: float = 60.0


def _number(raw: Mapping[str, Any], key: str, default: float, minimum: float = 0.0) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(f"alerts.{key}: expected a number of at least {minimum:g}")
    return float(value)


def _url(table: Mapping[str, Any], key: str) -> str:
    url = table.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{key}.url: expected an http(s) URL")
    return url


def _names(tables: list[Any]) -> list[str]:
    """Each channel's ``name``, or its type (numbered when several share it)."""
    kinds = [str(t.get("type")) if isinstance(t, Mapping) else "" for t in tables]
    names = []
    for index, (table, kind) in enumerate(zip(tables, kinds)):
        if isinstance(table, Mapping) and table.get("name"):
            names.append(str(table["name"]))
        elif kinds.count(kind) > 1:
            names.append(f"{kind}-{kinds[: index + 1].count(kind)}")
        else:
            names.append(kind)
    return names


def _channel(table: Any, index: int, name: str, config: Config, env: Mapping[str, str]) -> Channel:
    key = f"alerts.channels[{index}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{key}: expected a table")
    kind = table.get("type")
    if kind == "webhook":
        secret = table.get("secret")
        if table.get("secret_env"):
            secret = env.get(str(table["secret_env"]))
            if not secret:
                raise ConfigError(f"{key}.secret_env: {table['secret_env']} is not set")
        if not isinstance(secret, str) or not secret:
            raise ConfigError(f"{key}.secret: a webhook needs a secret to sign with")
        return WebhookChannel(_url(table, key), secret, name)
    if kind == "slack":
        return SlackChannel(_url(table, key), name)
    if kind == "telegram":
        from llmledger.telegram.settings import telegram_settings

        bot = telegram_settings(config, env)
        chats = table.get("chat_ids")
        if chats is None:
            chat_ids = sorted(bot.admins)
        elif isinstance(chats, list) and all(
            isinstance(c, int) and not isinstance(c, bool) for c in chats
        ):
            chat_ids = list(chats)
        else:
            raise ConfigError(f"{key}.chat_ids: expected a list of Telegram chat ids")
        if not chat_ids:
            raise ConfigError(f"{key}: no chat to send to: set chat_ids or ADMIN_USER_ID")
        return TelegramChannel(bot.token, chat_ids, bot.api_url, name)
    raise ConfigError(f"{key}.type: expected webhook, slack or telegram, got {kind!r}")


def alert_settings(config: Config, env: Mapping[str, str]) -> AlertSettings:
    raw = config.raw.get("alerts", {})
    if not isinstance(raw, Mapping):
        raise ConfigError("alerts: expected a table")
    channels_raw = raw.get("channels", [])
    if not isinstance(channels_raw, list):
        raise ConfigError("alerts.channels: expected an array of tables ([[alerts.channels]])")
    names = _names(channels_raw)
    channels = tuple(_channel(t, i, names[i], config, env) for i, t in enumerate(channels_raw))
    if len(set(names)) != len(names):
        raise ConfigError("alerts.channels: two channels have the same name; set name = ...")
    policy = RetryPolicy(
        attempts=int(_number(raw, "attempts", 5, 1)),
        backoff=_number(raw, "backoff_seconds", 1.0),
    )
    state = raw.get("state_dir")
    state_dir = Path(state) if isinstance(state, str) else data_dir(env) / "alerts"
    limits = AnomalyLimits(
        spend_spike_factor=_number(raw, "spend_spike_factor", 3.0, 1.0),
        spend_spike_min_usd=_number(raw, "spend_spike_min_usd", 1.0),
        upstream_error_rate=_number(raw, "upstream_error_rate", 0.5),
        upstream_min_failures=int(_number(raw, "upstream_min_failures", 5, 1)),
    )
    interval = _number(raw, "check_interval_seconds", 60.0, 0.1)
    return AlertSettings(channels, policy, state_dir, limits, interval)

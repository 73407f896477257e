"""The ways out. Each channel sends one alert with one HTTP request and says how it failed:
``DeliveryError(retry_after=…)`` when trying again later may work (a network error, a 5xx,
a 429 and its wait), ``permanent=True`` when it will not (a 4xx: a wrong URL or token).

- ``WebhookChannel``: the alert as JSON (model.webhook_payload), signed:
  ``X-LLMLedger-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>``,
  ``X-LLMLedger-Timestamp: <unix seconds>``, ``X-LLMLedger-Alert-Id: <id>``.
- ``SlackChannel``: a Slack incoming-webhook body (model.slack_payload).
- ``TelegramChannel``: ``sendMessage`` to each admin chat (model.telegram_text).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import aiohttp

from llmledger.alerts.model import Alert, slack_payload, telegram_text, webhook_payload

__all__ = [
    "Channel",
    "DeliveryError",
    "SlackChannel",
    "TelegramChannel",
    "WebhookChannel",
    "sign",
]

SIGNATURE_HEADER = "X-LLMLedger-Signature"
TIMESTAMP_HEADER = "X-LLMLedger-Timestamp"
ID_HEADER = "X-LLMLedger-Alert-Id"


class DeliveryError(Exception):
    """A send that failed; ``retry_after`` (seconds) when the receiver said when to retry."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _encode(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int, bytes, Mapping[str, str]]:
    try:
        async with session.post(
            url, data=body, headers={"Content-Type": "application/json", **headers}
        ) as response:
            return response.status, await response.read(), response.headers
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc


def _check(status: int, body: bytes, headers: Mapping[str, str]) -> None:
    if 200 <= status < 300:
        return
    text = body[:200].decode("utf-8", "replace").strip()
    message = f"HTTP {status}" + (f": {text}" if text else "")
    if status == 429 or status >= 500 or status == 408:
        retry_after = headers.get("Retry-After")
        delay = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise DeliveryError(message, retry_after=delay)
    raise DeliveryError(message, permanent=True)


class Channel(ABC):
    """One destination. ``name`` appears in logs, results and the dead-letter log."""

    name: str

    @abstractmethod
    async def send(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        """Deliver ``alert`` once, or raise DeliveryError."""


class WebhookChannel(Channel):
    def __init__(self, url: str, secret: str, name: str = "webhook") -> None:
        self.url = url
        self.secret = secret
        self.name = name

    async def send(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        body = _encode(webhook_payload(alert))
        timestamp = str(int(time.time()))
        headers = {
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
            ID_HEADER: alert.id,
        }
        _check(*await _post(session, self.url, body, headers))


class SlackChannel(Channel):
    def __init__(self, url: str, name: str = "slack") -> None:
        self.url = url
        self.name = name

    async def send(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        _check(*await _post(session, self.url, _encode(slack_payload(alert)), {}))


class TelegramChannel(Channel):
    """``sendMessage`` to every chat in ``chat_ids`` (the admins' private chats by default).
    A chat that already got the alert is not sent it again when another chat's send is
    retried."""

    def __init__(
        self, token: str, chat_ids: Sequence[int], api_url: str, name: str = "telegram"
    ) -> None:
        self._token = token
        self.chat_ids = tuple(chat_ids)
        self.api_url = api_url.rstrip("/")
        self.name = name
        self._done: set[tuple[str, int]] = set()

    def __repr__(self) -> str:  # never the token
        return f"TelegramChannel(chats={list(self.chat_ids)})"

    async def send(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        url = f"{self.api_url}{self._token}/sendMessage"
        for chat in self.chat_ids:
            if (alert.id, chat) in self._done:
                continue
            body = _encode({"chat_id": chat, "text": telegram_text(alert), "parse_mode": "HTML"})
            try:
                status, answer, headers = await _post(session, url, body, {})
            except DeliveryError as exc:  # the URL holds the token: say it without it
                raise DeliveryError(str(exc).replace(self._token, "<token>")) from None
            if status == 429:
                raise DeliveryError(
                    f"chat {chat}: HTTP 429 Too Many Requests",
                    retry_after=_telegram_retry_after(answer),
                )
            try:
                _check(status, answer, headers)
            except DeliveryError as exc:
                raise DeliveryError(
                    f"chat {chat}: {exc}", permanent=exc.permanent, retry_after=exc.retry_after
                ) from None
            self._done.add((alert.id, chat))


def _telegram_retry_after(answer: bytes) -> float | None:
    try:
        parameters = json.loads(answer).get("parameters") or {}
        return float(parameters["retry_after"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None

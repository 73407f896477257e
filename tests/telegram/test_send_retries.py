"""``send_text``: how a reply survives Telegram's answers (the exceptions python-telegram-bot
raises for them): a 429 waits its ``retry_after``, a network error backs off, a refusal or a
flood wait too long to hold the reply is given up, logged."""

from __future__ import annotations

import asyncio
import logging

import pytest

pytest.importorskip("telegram", reason="python-telegram-bot (the telegram extra) is missing")

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from llmledger.telegram import bot
from llmledger.telegram.bot import send_text

# python-telegram-bot 22.2+ warns inside RetryAfter about its future timedelta type.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class Flaky:
    """Raises the given errors in turn, then succeeds; counts the calls and the waits."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "sent"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(bot.asyncio, "sleep", sleep)
    return slept


def test_network_errors_back_off_then_the_reply_goes(waits: list[float]) -> None:
    send = Flaky(NetworkError("connection reset"), TimedOut(), NetworkError("bad gateway"))
    assert asyncio.run(send_text(send, "reply")) is True
    assert (send.calls, waits) == (4, [0.5, 1.0, 2.0])


def test_a_429_waits_what_telegram_asks(waits: list[float]) -> None:
    send = Flaky(RetryAfter(3), RetryAfter(7))
    assert asyncio.run(send_text(send, "reply")) is True
    assert (send.calls, waits) == (3, [3.0, 7.0])


def test_refusals_and_long_floods_are_given_up(
    waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    for error in (BadRequest("message is too long"), Forbidden("bot was blocked by the user")):
        send = Flaky(error)
        assert asyncio.run(send_text(send, "reply 1/1 to chat 5")) is False
        assert send.calls == 1
    flood = Flaky(RetryAfter(3600))
    assert asyncio.run(send_text(flood, "reply")) is False
    assert (flood.calls, waits) == (1, [])
    always = Flaky(*[NetworkError("down")] * 10)
    assert asyncio.run(send_text(always, "reply", attempts=3)) is False
    assert always.calls == 3
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "telegram: reply 1/1 to chat 5 refused: message is too long",
        "telegram: reply 1/1 to chat 5 refused: bot was blocked by the user",
        "telegram: reply dropped: flood wait of 3600 s",
        "telegram: reply not sent after 3 attempts",
    ]

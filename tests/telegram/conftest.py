"""The fake Telegram Bot API on its own event loop in a thread, for a bot that runs in another
process (``llmledger telegram``, ``llmledger serve``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from tests.telegram.fake_telegram import FakeTelegram

TOKEN = "7000000001:AAProcessTestToken-zyxwvutsrq"


@pytest.fixture
def fake_api() -> Iterator[tuple[FakeTelegram, asyncio.AbstractEventLoop]]:
    """The fake Bot API on its own event loop in a thread (the bot is another process)."""
    loop = asyncio.new_event_loop()
    fake = FakeTelegram(TOKEN)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield fake, loop
    asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)

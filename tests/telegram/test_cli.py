"""``llmledger telegram``: its one-line errors, and a real process against the fake Bot API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from llmledger.cli.main import main
from tests.telegram.conftest import TOKEN
from tests.telegram.fake_telegram import FakeTelegram


def test_missing_extra_names_the_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "telegram", None)  # import telegram -> ImportError
    monkeypatch.delitem(sys.modules, "llmledger.telegram.bot", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert main(["telegram"]) == 1
    assert capsys.readouterr().err == (
        "llmledger: error: the Telegram bot needs python-telegram-bot: "
        "pip install 'llmledger[telegram]'\n"
    )


def test_missing_token_and_bad_admins_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("telegram")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["telegram"]) == 1
    assert capsys.readouterr().err == (
        "llmledger: error: no Telegram bot token: set TELEGRAM_BOT_TOKEN or [telegram] token "
        "in the config (get one from @BotFather)\n"
    )
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ADMIN_USER_ID", "111,bob")
    assert main(["telegram"]) == 1
    assert capsys.readouterr().err == (
        "llmledger: error: ADMIN_USER_ID: 'bob' is not a Telegram user id (a number)\n"
    )


def test_the_command_answers_an_admin_and_stops_on_sigterm(
    tmp_path: Path, fake_api: tuple[FakeTelegram, asyncio.AbstractEventLoop]
) -> None:
    pytest.importorskip("telegram")
    fake, loop = fake_api
    config = tmp_path / "bot.toml"
    config.write_text(f'[telegram]\nadmins = [111]\napi_url = "{fake.url}"\ntimezone = "UTC"\n')
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
    env.pop("ADMIN_USER_ID", None)
    bot = subprocess.Popen(
        [sys.executable, "-m", "llmledger", "-vv", "telegram", "--config", str(config)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        asyncio.run_coroutine_threadsafe(fake.say(111, "/today"), loop).result(10)
        sent = asyncio.run_coroutine_threadsafe(fake.wait_sent(1, timeout=30), loop).result(40)
    finally:
        bot.send_signal(signal.SIGTERM)
        _, stderr = bot.communicate(timeout=30)
    assert bot.returncode == 0
    assert sent[0].text.startswith("<pre>Today, ")
    assert "no usage recorded today" in sent[0].text
    assert "Telegram bot @ledger_test_bot is answering 1 admin(s)" in stderr
    assert "<token>" in stderr  # -vv logs the request URLs, with the token hidden
    assert TOKEN not in stderr

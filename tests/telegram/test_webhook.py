"""The webhook mode: ``llmledger serve`` takes Telegram's updates at ``[telegram]
webhook_path`` (secret token checked) and the bot answers through the fake Bot API;
``llmledger telegram --set-webhook`` registers the URL with the secret."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

pytest.importorskip("telegram", reason="python-telegram-bot (the telegram extra) is missing")

from llmledger.cli.main import main
from llmledger.telegram.render import ADMIN_HELP
from tests.gateway.conftest import GatewayProcess, standard_config
from tests.telegram.conftest import TOKEN
from tests.telegram.fake_telegram import FakeTelegram, Sent

SECRET = "webhook-secret-0123456789"

FakeApi = tuple[FakeTelegram, asyncio.AbstractEventLoop]


def telegram_toml(fake: FakeTelegram) -> str:
    return f"""
[telegram]
admins = [111]
api_url = "{fake.url}"
timezone = "UTC"
webhook_secret = "{SECRET}"
webhook_path = "/hooks/telegram"
"""


@pytest.fixture
def gateway(tmp_path: Path, fake_api: FakeApi) -> Iterator[GatewayProcess]:
    fake, _ = fake_api
    config = standard_config(9, tmp_path) + telegram_toml(fake)
    process = GatewayProcess(tmp_path, config, env={"TELEGRAM_BOT_TOKEN": TOKEN}).start()
    yield process
    assert process.stop() == 0


def update(text: str, user: int = 111, update_id: int = 1) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": user, "is_bot": False, "first_name": "Ada"},
            "chat": {"id": user, "type": "private", "first_name": "Ada"},
            "date": int(time.time()),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


def test_serve_answers_updates_posted_to_the_webhook(
    gateway: GatewayProcess, fake_api: FakeApi
) -> None:
    fake, loop = fake_api
    url = f"{gateway.url}/hooks/telegram"
    secret = {"x-telegram-bot-api-secret-token": SECRET}
    with httpx2.Client(timeout=10) as client:
        assert client.post(url, json=update("/help"), headers=secret).json() == {"ok": True}
        sent = asyncio.run_coroutine_threadsafe(fake.wait_sent(1), loop).result(20)
        assert sent == [Sent(111, ADMIN_HELP, "HTML")]
        wrong = {"x-telegram-bot-api-secret-token": "guess"}
        forged = client.post(url, json=update("/token_usage", update_id=2), headers=wrong)
        assert (forged.status_code, forged.json()["error"]) == (403, "wrong secret token")
        broken = client.post(url, content=b"{not json", headers=secret)
        assert (broken.status_code, broken.json()["error"]) == (400, "the body is not JSON")
        other = client.post(url, json={"hello": 1}, headers=secret)
        assert (other.status_code, other.json()["error"]) == (400, "not a Telegram update")
    time.sleep(0.5)
    assert len(fake.sent) == 1  # nothing answered the refused posts
    assert TOKEN not in "".join(gateway.stderr)


def test_set_webhook_registers_the_url_with_the_secret(
    tmp_path: Path,
    fake_api: FakeApi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, _ = fake_api
    config = tmp_path / "bot.toml"
    config.write_text(telegram_toml(fake))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    hook = "https://ledger.example.com/hooks/telegram"
    assert main(["telegram", "--config", str(config), "--set-webhook", hook]) == 0
    assert capsys.readouterr().err == f"llmledger: Telegram now POSTs updates to {hook}\n"
    [params] = [p for m, p in fake.params if m == "setWebhook"]
    assert (params["url"], params["secret_token"], params["allowed_updates"]) == (
        hook,
        SECRET,
        ["message"],
    )
    assert main(["telegram", "--config", str(config), "--delete-webhook"]) == 0
    assert [m for m, _ in fake.params][-1] == "deleteWebhook"


def test_set_webhook_needs_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bot.toml"
    config.write_text("[telegram]\nadmins = [111]\n")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert main(["telegram", "--config", str(config), "--set-webhook", "https://x.test/h"]) == 1
    assert capsys.readouterr().err.startswith(
        "llmledger: error: set [telegram] webhook_secret (or webhook_secret_env) first"
    )

"""``llmledger alerts test|check``: every configured channel, one-line errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmledger.cli.main import main
from tests.alerts.receiver import Receiver

SECRET = "cli-secret"


@pytest.fixture
def hooks() -> Iterator[tuple[Receiver, Receiver]]:
    webhook = Receiver(secret=SECRET, script=[500]).start()
    slack = Receiver().start()
    yield webhook, slack
    webhook.stop()
    slack.stop()


def write_config(tmp_path: Path, webhook: str, slack: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[alerts]
backoff_seconds = 0.05
state_dir = "{tmp_path / "alerts"}"

[[alerts.channels]]
type = "webhook"
url = "{webhook}/hook"
secret_env = "TEST_ALERT_SECRET"

[[alerts.channels]]
type = "slack"
url = "{slack}/slack"
"""
    )
    return config


def test_alerts_test_reaches_every_channel(
    hooks: tuple[Receiver, Receiver],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    webhook, slack = hooks
    monkeypatch.setenv("TEST_ALERT_SECRET", SECRET)
    config = write_config(tmp_path, webhook.url, slack.url)
    assert main(["--config", str(config), "alerts", "test"]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(
        r"webhook  (test:\d{8}T\d{12}Z)  delivered \(2 attempts\)\n"
        r"slack    \1  delivered \(1 attempt\)\n",
        out,
    ), out
    [accepted] = webhook.accepted
    assert accepted.signature_ok is True and accepted.body["type"] == "test"
    assert slack.accepted[0].body["text"] == "ℹ️ llmledger test alert"


def test_a_failing_channel_fails_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEST_ALERT_SECRET", SECRET)
    down = Receiver(always=404).start()
    try:
        config = write_config(tmp_path, down.url, down.url)
        assert main(["--config", str(config), "alerts", "test", "--json"]) == 1
    finally:
        down.stop()
    captured = capsys.readouterr()
    results = json.loads(captured.out)["results"]
    assert [(r["channel"], r["delivered"], r["attempts"]) for r in results] == [
        ("webhook", False, 1),
        ("slack", False, 1),
    ]
    dead = tmp_path / "alerts" / "dead-letter.jsonl"
    assert captured.err == (
        f"llmledger: error: 2 delivery(ies) failed; they are in the dead-letter log {dead}\n"
    )
    assert len(dead.read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("", "no alert channels: add [[alerts.channels]] to the config (see docs/alerts.md)"),
        (
            '[[alerts.channels]]\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\n',
            "alerts.channels[0].secret: a webhook needs a secret to sign with",
        ),
        (
            '[[alerts.channels]]\ntype = "pager"\n',
            "alerts.channels[0].type: expected webhook, slack or telegram, got 'pager'",
        ),
        (
            '[[alerts.channels]]\ntype = "telegram"\n',
            "no Telegram bot token: set TELEGRAM_BOT_TOKEN or [telegram] token in the config "
            "(get one from @BotFather)",
        ),
    ],
)
def test_bad_config_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    config: str,
    message: str,
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(config)
    assert main(["--config", str(path), "alerts", "test"]) == 1
    assert capsys.readouterr().err == f"llmledger: error: {message}\n"


def test_check_dry_run_lists_what_would_be_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ledger.db"
    assert main(["--db", str(db), "record", "--model", "nobody-prices-this", "--input", "5"]) == 0
    capsys.readouterr()
    assert main(["--db", str(db), "alerts", "check", "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        "warning   Model nobody-prices-this has no price\n"
        "          Usage of nobody-prices-this was recorded today without a price, so its cost "
        "is in no total. Add it under [pricing.models] in the config, then run llmledger "
        "reprice.\n"
    )

"""The bot against a fake Telegram Bot API on loopback: python-telegram-bot itself polls
``getUpdates`` and calls ``sendMessage``; the fake records exactly what reached Telegram."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("telegram", reason="python-telegram-bot (the telegram extra) is missing")

from llmledger.ledger import Ledger
from llmledger.telegram.bot import UsageBot, hide_token
from llmledger.telegram.render import MESSAGE_LIMIT
from llmledger.telegram.settings import TelegramSettings
from tests.telegram.fake_telegram import FakeTelegram, Sent

# python-telegram-bot 22.2+ warns inside RetryAfter about its future timedelta type.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "7000000001:AAFakeTokenForTestsOnly-abcdefghijk"
ADMIN = 111111111
STRANGER = 333333333
LINKED = 222222222
TODAY = datetime.now(timezone.utc).date()

Script = Callable[[FakeTelegram], Awaitable[None]]


def _at(days_ago: int, hour: int = 10) -> str:
    day = TODAY - timedelta(days=days_ago)
    return datetime.combine(day, time(hour), tzinfo=timezone.utc).isoformat()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.record(model="gpt-4o-mini", input_tokens=12_000, output_tokens=3_000, ts=_at(1))
    ledger.record(
        model="gpt-4o-mini",
        input_tokens=8_000,
        output_tokens=1_000,
        cache_read_tokens=2_000,
        ts=_at(0),
    )
    ledger.record(model="mystery-model-2026", input_tokens=500, output_tokens=250, ts=_at(0, 11))
    ledger.record(model="gpt-4o-mini", input_tokens=999, output_tokens=1, ts=_at(40))
    return ledger


def _run(ledger: Ledger, script: Script, fake: FakeTelegram | None = None) -> FakeTelegram:
    fake = fake or FakeTelegram(TOKEN)

    async def main() -> None:
        url = await fake.start()
        settings = TelegramSettings(
            token=TOKEN,
            admins=frozenset({ADMIN}),
            users={LINKED: "alice"},
            timezone="UTC",
            api_url=url,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(UsageBot(settings, ledger).run(stop, poll_timeout=1))
        try:
            await script(fake)
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            await fake.stop()

    asyncio.run(main())
    return fake


def _pre(text: str) -> str:
    return "<pre>" + html.escape(text, quote=False) + "</pre>"


def _day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def test_admin_gets_the_report_despite_a_429(ledger: Ledger) -> None:
    fake = FakeTelegram(TOKEN, rate_limit_next=1, retry_after=1)

    async def script(fake: FakeTelegram) -> None:
        await fake.say(ADMIN, "/token_usage 7")
        await fake.wait_sent(1)

    _run(ledger, script, fake)
    expected = f"""\
Token usage, last 7 days
{_day(6)} to {_day(0)} (UTC)

MODEL             IN   OUT TOTAL    COST
{_day(1)} ─────────────────────────────
gpt-4o-mini    12.0K 3,000 15.0K  <$0.01
{_day(0)} ─────────────────────────────
gpt-4o-mini    8,000 1,000 11.0K  <$0.01
mystery-model-2026
                 500   250   750       ?
BY MODEL ───────────────────────────────
gpt-4o-mini    20.0K 4,000 26.0K  <$0.01
mystery-model-2026
                 500   250   750       ?
TOTAL ──────────────────────────────────
all            20.5K 4,250 26.8K  <$0.01*
3 requests; TOTAL = in + out + cache
* unpriced, cost not included: mystery-model-2026"""
    assert fake.sent == [Sent(ADMIN, _pre(expected), "HTML")]
    assert fake.rejected_sends == 1  # the 429 was answered, then the same reply went through


def test_default_is_thirty_days_and_today_and_models(ledger: Ledger) -> None:
    async def script(fake: FakeTelegram) -> None:
        await fake.say(ADMIN, "/token_usage")
        await fake.wait_sent(1)
        await fake.say(ADMIN, "/today")
        await fake.wait_sent(2)
        await fake.say(ADMIN, "/models 60")
        await fake.wait_sent(3)

    sent = _run(ledger, script).sent
    assert sent[0].text.startswith(_pre(f"Token usage, last 30 days\n{_day(29)} to")[:-6])
    assert "999" not in sent[0].text  # 40 days ago is outside the default window
    assert sent[1] == Sent(
        ADMIN,
        _pre(
            f"""\
Today, {_day(0)} (UTC)

MODEL             IN   OUT TOTAL    COST
gpt-4o-mini    8,000 1,000 11.0K  <$0.01
mystery-model-2026
                 500   250   750       ?
TOTAL ──────────────────────────────────
all            8,500 1,250 11.8K  <$0.01*
2 requests; TOTAL = in + out + cache
* unpriced, cost not included: mystery-model-2026"""
        ),
        "HTML",
    )
    assert sent[2] == Sent(
        ADMIN,
        _pre(
            f"""\
Models, last 60 days
{_day(59)} to {_day(0)} (UTC)

MODEL             IN   OUT TOTAL    COST
gpt-4o-mini    21.0K 4,001 27.0K  <$0.01
mystery-model-2026
                 500   250   750       ?
TOTAL ──────────────────────────────────
all            21.5K 4,251 27.8K  <$0.01*
4 requests; TOTAL = in + out + cache
* unpriced, cost not included: mystery-model-2026"""
        ),
        "HTML",
    )


REFUSAL = (
    "Sorry, this bot only answers the people its owner has set up (your Telegram user id is "
    "333333333). If you should have access, please ask them to add you."
)


def test_strangers_are_refused_without_learning_the_commands(ledger: Ledger) -> None:
    async def script(fake: FakeTelegram) -> None:
        for index, command in enumerate(["/token_usage", "/today", "/models 3", "/help", "/usage"]):
            await fake.say(STRANGER, command, first_name="Eve")
            await fake.wait_sent(index + 1)

    sent = _run(ledger, script).sent
    assert sent == [Sent(STRANGER, REFUSAL, "HTML")] * 5


def test_linked_user_sees_own_meter_and_a_short_help(ledger: Ledger) -> None:
    ledger.record_user_tokens("alice", 15_000)

    async def script(fake: FakeTelegram) -> None:
        await fake.say(LINKED, "/usage")
        await fake.wait_sent(1)
        await fake.say(LINKED, "/help")
        await fake.wait_sent(2)
        await fake.say(LINKED, "/token_usage")
        await fake.wait_sent(3)

    sent = _run(ledger, script).sent
    month = ledger.usage_summary("alice")
    assert sent[0].text == _pre(
        f"""\
alice: plan hobby, {month["month"]}
██████░░░░░░░░░░░░░░ 30%
used     15,000 tokens of 50,000 tokens
left     35,000 tokens
add-ons  0 tokens this month
resets   {month["resetsAt"].replace("T", " ").replace("Z", " UTC")}"""
    )
    assert sent[1].text == (
        "/usage  your meter this month: used, left, when it resets\n/help  this list"
    )
    assert sent[2].text == REFUSAL.replace("333333333", str(LINKED))


@pytest.mark.parametrize("argument", ["0", "-3", "1000", "abc", "7 8"])
def test_bad_days_get_a_usage_hint(ledger: Ledger, argument: str) -> None:
    async def script(fake: FakeTelegram) -> None:
        await fake.say(ADMIN, f"/token_usage {argument}")
        await fake.wait_sent(1)

    sent = _run(ledger, script).sent
    hint = (
        f"{html.escape(repr(argument), quote=False)} is not a number of days. Usage: "
        "/token_usage [days], a whole number from 1 to 366 (default 30)."
    )
    assert [s.text for s in sent] == [hint]


def test_a_long_report_is_split_between_rows(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "long.db")
    models = [f"model-{name}" for name in ("alpha", "beta", "gamma", "delta", "epsilon")]
    ledger.record_many(
        Ledger.make_event(
            id=f"e{day}-{index}",
            model=model,
            input_tokens=1_000 * (day + 1),
            output_tokens=10 * (index + 1),
            ts=_at(day),
        )
        for day in range(90)
        for index, model in enumerate(models)
    )

    async def script(fake: FakeTelegram) -> None:
        await fake.say(ADMIN, "/token_usage 90")
        await fake.wait_sent(3)

    sent = _run(ledger, script).sent
    assert 3 <= len(sent) <= 6
    assert all(len(message.text) <= MESSAGE_LIMIT for message in sent)
    bodies = [html.unescape(m.text.removeprefix("<pre>").removesuffix("</pre>")) for m in sent]
    for index, body in enumerate(bodies, 1):
        assert body.startswith(f"Token usage, last 90 days ({index}/{len(sent)})\n")
    # The rows after each part's title and header, joined, are the whole report, in order.
    rows = [line for body in bodies for line in body.split("\n")[4:]]
    days = [line.split()[0] for line in rows if line.endswith("─") and line[:4].isdigit()]
    assert days == [_day(d) for d in range(89, -1, -1)]
    assert sum(1 for line in rows if line.startswith("model-")) == 90 * 5 + 5
    assert rows[-3].startswith("all ") and rows[-2] == "450 requests; TOTAL = in + out + cache"
    assert rows[-1] == "* unpriced, cost not included: " + ", ".join(sorted(models))
    # A day's block (its rule and its five models) never straddles two messages.
    for body in bodies:
        lines = body.split("\n")[4:]
        for at, line in enumerate(lines):
            if line[:4].isdigit():
                assert all(row.startswith("model-") for row in lines[at + 1 : at + 6])


def test_network_drops_and_the_token_stays_out_of_the_logs(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hide_token(TOKEN)
    fake = FakeTelegram(TOKEN, drop_next_polls=2)

    async def script(fake: FakeTelegram) -> None:
        await fake.say(ADMIN, "/today")
        await fake.wait_sent(1, timeout=30)

    _run(ledger, script, fake)
    assert fake.sent[0].text.startswith(_pre(f"Today, {_day(0)} (UTC)")[:-6])
    assert fake.calls.count("getUpdates") >= 3  # two dropped, then the one that got /today
    logged = [record.getMessage() for record in caplog.records]
    assert any("<token>" in line for line in logged)  # URLs were logged, redacted
    assert not any(TOKEN in line for line in logged)

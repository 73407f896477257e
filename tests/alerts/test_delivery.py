"""Delivery to real HTTP receivers on loopback: retries after a failure, one delivery per
alert id, valid signatures, the dead-letter log, and the Telegram admin chat through the fake
Bot API (a 429 with retry_after first)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from llmledger.alerts.channels import SlackChannel, TelegramChannel, WebhookChannel
from llmledger.alerts.delivery import AlertDispatcher, DeliveryLog, DeliveryResult, RetryPolicy
from llmledger.alerts.model import Alert, make_test_alert, telegram_text, webhook_payload
from tests.alerts.receiver import Receiver
from tests.telegram.fake_telegram import FakeTelegram, Sent

SECRET = "s3cret-for-tests"
FAST = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2, timeout=5)
AT = datetime(2026, 12, 7, 10, 15, tzinfo=timezone.utc)


def alert(number: int) -> Alert:
    return Alert(
        id=f"anomaly:test:{number}",
        kind="anomaly.spend_spike",
        severity="warning",
        title=f"alert {number}",
        message=f"the message of alert {number}",
        at=AT,
        details={"n": number},
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(secret=SECRET).start()
    yield started
    started.stop()


def test_each_alert_arrives_once_signed_despite_a_failure(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = [500]  # the first request fails
    slack = Receiver(script=[503]).start()
    try:
        dispatcher = AlertDispatcher(
            [
                WebhookChannel(receiver.url + "/hook", SECRET),
                SlackChannel(slack.url + "/slack"),
            ],
            policy=FAST,
            record=DeliveryLog(tmp_path / "alerts"),
        )
        first = asyncio.run(dispatcher.deliver([alert(1), alert(2)]))
        again = asyncio.run(dispatcher.deliver([alert(1), alert(2)]))  # e.g. found again
    finally:
        slack.stop()
    accepted_ids = sorted(r.body["id"] for r in receiver.accepted)
    assert accepted_ids == ["anomaly:test:1", "anomaly:test:2"]
    assert [r.signature_ok for r in receiver.received] == [True, True, True]
    failed_first = receiver.received[0]
    assert failed_first.status == 500
    assert failed_first.headers["X-LLMLedger-Alert-Id"] == failed_first.body["id"]
    # The alert whose first request failed took two attempts, the other one.
    slack_failed = slack_id(slack, 0)
    assert {(r.channel, r.alert_id): (r.delivered, r.attempts) for r in first} == {
        ("webhook", failed_first.body["id"]): (True, 2),
        ("webhook", other(failed_first.body["id"])): (True, 1),
        ("slack", slack_failed): (True, 2),
        ("slack", other(slack_failed)): (True, 1),
    }
    assert [(r.delivered, r.duplicate) for r in again] == [(False, True)] * 4
    assert len(slack.accepted) == 2
    # The webhook body is the alert's payload, exactly.
    by_id = {r.body["id"]: r.body for r in receiver.accepted}
    assert by_id["anomaly:test:1"] == {
        "id": "anomaly:test:1",
        "type": "anomaly.spend_spike",
        "severity": "warning",
        "title": "alert 1",
        "message": "the message of alert 1",
        "at": "2026-12-07T10:15:00Z",
        "source": "llmledger",
        "details": {"n": 1},
    }
    sent_log = [
        json.loads(x) for x in (tmp_path / "alerts" / "sent.jsonl").read_text().splitlines()
    ]
    pairs = [("slack", "anomaly:test:1"), ("slack", "anomaly:test:2")]
    pairs += [("webhook", "anomaly:test:1"), ("webhook", "anomaly:test:2")]
    # Each pair claimed (for the other processes) before it was sent, then marked sent.
    for mark in ("claimedUntil", "sentAt"):
        assert sorted((x["channel"], x["alertId"]) for x in sent_log if mark in x) == pairs
    assert not (tmp_path / "alerts" / "dead-letter.jsonl").exists()


def other(alert_id: str) -> str:
    return "anomaly:test:2" if alert_id == "anomaly:test:1" else "anomaly:test:1"


def slack_id(slack: Receiver, index: int) -> str:
    """The alert id in a Slack body's context line."""
    context = slack.received[index].body["blocks"][1]["elements"][0]["text"]
    return str(context.rsplit("`", 2)[1])


def test_a_later_process_does_not_send_again(receiver: Receiver, tmp_path: Path) -> None:
    def dispatcher() -> AlertDispatcher:
        channel = WebhookChannel(receiver.url + "/hook", SECRET)
        return AlertDispatcher([channel], policy=FAST, record=DeliveryLog(tmp_path))

    asyncio.run(dispatcher().deliver([alert(1)]))
    results = asyncio.run(dispatcher().deliver([alert(1), alert(2)]))
    assert [(r.alert_id, r.delivered, r.duplicate) for r in results] == [
        ("anomaly:test:2", True, False),
        ("anomaly:test:1", False, True),
    ]
    assert [r.body["id"] for r in receiver.accepted] == ["anomaly:test:1", "anomaly:test:2"]


def test_a_channel_that_keeps_failing_goes_to_the_dead_letter_log(tmp_path: Path) -> None:
    down = Receiver(always=503).start()
    gone = Receiver(always=404).start()
    try:
        dispatcher = AlertDispatcher(
            [
                WebhookChannel(down.url + "/hook", SECRET, name="ops"),
                SlackChannel(gone.url + "/slack"),
            ],
            policy=FAST,
            record=DeliveryLog(tmp_path),
        )
        results = asyncio.run(dispatcher.deliver([alert(7)]))
    finally:
        down.stop()
        gone.stop()
    assert results == [
        DeliveryResult("ops", "anomaly:test:7", False, 4, 'HTTP 503: {"ok": false}'),
        DeliveryResult("slack", "anomaly:test:7", False, 1, 'HTTP 404: {"ok": false}'),
    ]
    assert len(down.received) == 4 and len(gone.received) == 1
    dead = [json.loads(line) for line in (tmp_path / "dead-letter.jsonl").read_text().splitlines()]
    assert [(d["channel"], d["alertId"], d["attempts"], d["error"]) for d in dead] == [
        ("slack", "anomaly:test:7", 1, 'HTTP 404: {"ok": false}'),
        ("ops", "anomaly:test:7", 4, 'HTTP 503: {"ok": false}'),
    ]
    assert dead[0]["alert"] == webhook_payload(alert(7))


def test_nothing_listening_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    channel = WebhookChannel("http://127.0.0.1:9/hook", SECRET)  # the discard port: refused
    dispatcher = AlertDispatcher([channel], policy=FAST, record=DeliveryLog(tmp_path))
    [result] = asyncio.run(dispatcher.deliver([alert(3)]))
    assert (result.delivered, result.attempts) == (False, 4)
    assert result.error is not None and result.error.startswith("ClientConnectorError")


def test_telegram_admin_chat_after_a_429(tmp_path: Path) -> None:
    token = "7000000001:AAAlertsTokenForTests-0123456"
    fake = FakeTelegram(token, rate_limit_next=1, retry_after=1)
    test_alert = make_test_alert(AT)

    async def main() -> list[DeliveryResult]:
        url = await fake.start()
        try:
            channel = TelegramChannel(token, [111, 222], url)
            dispatcher = AlertDispatcher([channel], policy=FAST, record=DeliveryLog(tmp_path))
            return await dispatcher.deliver([test_alert, test_alert])
        finally:
            await fake.stop()

    results = asyncio.run(main())
    assert [(r.delivered, r.attempts, r.duplicate) for r in results] == [
        (True, 2, False),
        (False, 0, True),
    ]
    text = telegram_text(test_alert)
    assert fake.sent == [Sent(111, text, "HTML"), Sent(222, text, "HTML")]
    assert text == (
        "ℹ️ <b>llmledger test alert</b>\nIf you can read this, alerts reach this channel.\n"
        "<code>test · 2026-12-07T10:15:00Z</code>"
    )
    assert fake.rejected_sends == 1


def test_submit_from_other_threads(receiver: Receiver) -> None:
    dispatcher = AlertDispatcher([WebhookChannel(receiver.url + "/hook", SECRET)], policy=FAST)
    futures = [dispatcher.submit(alert(n)) for n in (1, 2, 1)]
    assert dispatcher.flush(10) is True
    dispatcher.close()
    assert sorted(r.body["id"] for r in receiver.accepted) == ["anomaly:test:1", "anomaly:test:2"]
    assert [f.result()[0].duplicate for f in futures].count(True) == 1

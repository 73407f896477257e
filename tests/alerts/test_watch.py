"""Finding alerts: quota thresholds (delivered as they fire, and found again from their stored
state with the same id), spend spikes, new unpriced models, failing upstream accounts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from llmledger.alerts.anomalies import find_anomalies
from llmledger.alerts.channels import WebhookChannel
from llmledger.alerts.delivery import AlertDispatcher, DeliveryLog, RetryPolicy
from llmledger.alerts.settings import AlertSettings, AnomalyLimits
from llmledger.alerts.watch import AlertWatch, subscribe_quota_alerts
from llmledger.config import parse_config
from llmledger.ledger import Ledger
from llmledger.pricing.book import PriceBook
from tests.alerts.receiver import Receiver

SECRET = "watch-secret"
NOW = datetime.now(timezone.utc)
TODAY = NOW.date()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(secret=SECRET).start()
    yield started
    started.stop()


def ledger_at(path: Path, raw: dict[str, object] | None = None) -> Ledger:
    return Ledger(path, config=parse_config(raw or {}), prices=PriceBook(), env={})


def test_quota_alerts_are_delivered_once_whoever_finds_them(
    receiver: Receiver, tmp_path: Path
) -> None:
    raw: dict[str, object] = {
        "quotas": {"default_plan": "tiny"},
        "plans": {"tiny": {"tokens": 1000}},
    }
    ledger = ledger_at(tmp_path / "ledger.db", raw)
    channel = WebhookChannel(receiver.url + "/hook", SECRET)
    record = DeliveryLog(tmp_path / "alerts")
    dispatcher = AlertDispatcher([channel], policy=RetryPolicy(backoff=0.05), record=record)
    unsubscribe = subscribe_quota_alerts(ledger, dispatcher)
    ledger.record_user_tokens("alice", 850)  # 85% of 1,000: the 80% threshold fires
    assert dispatcher.flush(10) is True
    unsubscribe()
    dispatcher.close()
    [delivered] = receiver.accepted
    body = delivered.body
    assert delivered.signature_ok is True
    assert body["type"] == "quota.fired"
    assert body["severity"] == "warning"
    assert body["title"] == "user:alice reached 80% of plan tiny"
    month = f"{NOW:%Y-%m}"
    assert body["id"].startswith(f"quota:plan:user:alice:{month}:80:fired:")
    assert body["details"]["used"] == 850 and body["details"]["limit"] == 1000

    # `alerts watch` in another process finds the same alert in the stored state: same id.
    settings = AlertSettings(channels=(channel,), state_dir=tmp_path / "alerts")
    watch = AlertWatch(
        ledger, settings, AlertDispatcher([channel], record=DeliveryLog(tmp_path / "alerts"))
    )
    quota = [a for a in watch.find() if a.kind.startswith("quota.")]
    assert [a.id for a in quota] == [body["id"]]
    results = asyncio.run(watch.check())
    # New: only the anomaly of the bare tokens' model, which has no price in this ledger.
    assert sorted((r.alert_id, r.delivered, r.duplicate) for r in results) == [
        (f"anomaly:unpriced_model:unknown:{TODAY}", True, False),
        (body["id"], False, True),
    ]
    assert [r.body["id"] for r in receiver.accepted] == [
        body["id"],
        f"anomaly:unpriced_model:unknown:{TODAY}",
    ]
    ledger.close()


def _day(days_ago: int, hour: int = 1) -> datetime:
    day = TODAY - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def test_a_spend_spike_and_a_new_unpriced_model(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "ledger.db")
    for days_ago in range(1, 15):
        ledger.record(model="gpt-4o", input_tokens=10, output_tokens=1, cost=1.0, ts=_day(days_ago))
    ledger.record(model="gpt-4o", input_tokens=10, output_tokens=1, cost=5.0, ts=_day(0))
    ledger.record(model="old-mystery", input_tokens=10, output_tokens=1, ts=_day(3))
    ledger.record(model="old-mystery", input_tokens=10, output_tokens=1, ts=_day(0))
    ledger.record(model="new-mystery", input_tokens=10, output_tokens=1, ts=_day(0))
    found = find_anomalies(ledger, AnomalyLimits())
    today = TODAY.isoformat()
    assert [(a.id, a.kind, a.title, a.message) for a in found] == [
        (
            f"anomaly:spend_spike:{today}",
            "anomaly.spend_spike",
            "Spend today is 5.0x the 14-day average",
            f"$5.00 spent on {today} (UTC) against an average of $1.00 a day over the 14 "
            "days before",
        ),
        (
            f"anomaly:unpriced_model:new-mystery:{today}",
            "anomaly.unpriced_model",
            "Model new-mystery has no price",
            "Usage of new-mystery was recorded today without a price, so its cost is in no "
            "total. Add it under [pricing.models] in the config, then run llmledger reprice.",
        ),
    ]


@pytest.mark.parametrize(("today_usd", "spike"), [(2.99, False), (3.0, True), (0.5, False)])
def test_the_spike_needs_the_factor_and_the_minimum(
    tmp_path: Path, today_usd: float, spike: bool
) -> None:
    ledger = ledger_at(tmp_path / "ledger.db")
    ledger.record(model="m", input_tokens=1, output_tokens=1, cost=14.0, ts=_day(2))  # avg 1
    ledger.record(model="m", input_tokens=1, output_tokens=1, cost=today_usd, ts=_day(0))
    limits = AnomalyLimits(spend_spike_min_usd=1.0)
    kinds = [a.kind for a in find_anomalies(ledger, limits)]
    assert kinds == (["anomaly.spend_spike"] if spike else [])


def test_no_history_is_no_spike(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "ledger.db")
    ledger.record(model="m", input_tokens=1, output_tokens=1, cost=100.0, ts=_day(0))
    assert find_anomalies(ledger, AnomalyLimits()) == []


def test_a_failing_upstream_account(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "ledger.db")
    recent = NOW - timedelta(minutes=10)
    for index in range(8):
        ledger.record(
            model="m",
            input_tokens=1,
            output_tokens=0,
            cost=0.0,
            account="acct-a",
            success=index >= 6,  # 6 of 8 failed
            status="502" if index < 6 else "200",
            ts=recent,
        )
    for index in range(10):
        ledger.record(
            model="m",
            input_tokens=1,
            output_tokens=0,
            cost=0.0,
            account="acct-b",
            success=index > 0,
            ts=recent,
        )
    long_ago = NOW - timedelta(hours=3)
    for _ in range(9):
        ledger.record(
            model="m",
            input_tokens=1,
            output_tokens=0,
            cost=0.0,
            account="acct-c",
            success=False,
            ts=long_ago,
        )
    found = find_anomalies(ledger, AnomalyLimits(), now=NOW)
    assert [(a.id, a.severity, a.title, a.message) for a in found] == [
        (
            f"anomaly:upstream_errors:acct-a:{NOW:%Y%m%dT%H}",
            "critical",
            "Upstream account acct-a is failing",
            "6 of 8 requests through acct-a failed in the last 60 minutes (75%)",
        )
    ]


def test_stored_states_read_as_alerts_with_the_ids_of_the_fired_events() -> None:
    from llmledger.alerts.model import from_quota_event, from_quota_state
    from llmledger.quota.alerts import AlertEvent
    from llmledger.quota.records import AlertState

    fired_at = datetime(2026, 12, 7, 10, 15, 0, 123456, tzinfo=timezone.utc)
    resolved_at = datetime(2026, 12, 8, 9, 0, tzinfo=timezone.utc)
    state = AlertState("budget:b7:usd", "2026-12", 80, fired_at, None, 85, 100)
    fired = from_quota_state(state)
    assert (fired.id, fired.kind, fired.severity, fired.title) == (
        "quota:budget:b7:usd:2026-12:80:fired:20261207T101500Z",
        "quota.fired",
        "warning",
        "budget b7 reached 80% of its limit",
    )
    event = AlertEvent(
        state="fired",
        limit_key="budget:b7:usd",
        kind="budget",
        name="b7",
        subject="user:u1",
        window="2026-12",
        threshold=80,
        used=0.85,
        limit=1.0,
        unit="usd",
        percent=85,
        at=fired_at,
    )
    assert from_quota_event(event).id == fired.id  # found twice, delivered once
    resolved = from_quota_state(
        AlertState("plan:user:u1", "2026-12", 100, fired_at, resolved_at, 90, 100)
    )
    assert (resolved.id, resolved.severity, resolved.title, resolved.message) == (
        "quota:plan:user:u1:2026-12:100:resolved:20261208T090000Z",
        "info",
        "user:u1 is below 100% of its plan again",
        "user:u1 is below 100% of its plan again in 2026-12 (90% used)",
    )

"""Meters through the quota service on a real ledger: the original app's numbers, plans per user
and org with a default, add-ons that extend the month and survive a restart, rollover, the
month in a non-UTC zone, and alerts that fire once per threshold and window and resolve."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from llmledger.config import parse_config
from llmledger.errors import InvalidEventError, LedgerError, StoreError
from llmledger.ledger import Ledger
from llmledger.quota.alerts import AlertEvent
from llmledger.quota.records import Budget
from llmledger.quota.service import Estimate, Subject
from tests.quota.conftest import Clock, OpenBook, at, open_ledger

NOW = at("2026-01-10T11:00")  # an hour before the clock fixture


def test_the_original_apps_example(open_book: OpenBook) -> None:
    book = open_book()
    book.record_tokens("u1", 15_000)
    assert book.summary("u1") == {
        "month": "2026-01",
        "used": 15_000,
        "limit": 50_000,
        "remaining": 35_000,
        "percent": 30,
        "addOn": 0,
        "plan": "hobby",
        "unit": "tokens",
        "resetsAt": "2026-02-01T00:00:00Z",
        "overage": 0,
        "hasAccess": True,
    }
    assert book._ledger.usage_summary("u1", at=at("2026-01-10T12:00")) == book.summary("u1")
    nobody = book.summary("nobody")
    assert (nobody["used"], nobody["percent"], nobody["plan"]) == (0, 0, "hobby")


def test_plans_per_user_and_org_and_the_default(open_book: OpenBook) -> None:
    book = open_book(
        {
            "plans": {"free": {"tokens": 0}, "pro": {"tokens": 1000}},
            "quotas": {"default_plan": "free"},
        }
    )
    book.record_tokens("u1", 400, org_id="acme")
    assert book.summary("u1") | {"resetsAt": None} == {
        "month": "2026-01",
        "used": 400,
        "limit": 0,
        "remaining": 0,
        "percent": 0,  # no limit: 0, never an error
        "addOn": 0,
        "plan": "free",
        "unit": "tokens",
        "resetsAt": None,
        "overage": 400,
        "hasAccess": False,
    }
    book.assign_plan("pro", org_id="acme")
    # The org's plan meters its members' requests; the user's own meter stays the default.
    assert book.summary(org_id="acme")["plan"] == "pro"
    assert book.summary(org_id="acme")["used"] == 400
    assert book.summary("u1", "acme")["plan"] == "pro"
    book.assign_plan("pro", user_id="u1")
    assert book.assignments() == {"org:acme": "pro", "user:u1": "pro"}
    assert book.summary("u1")["percent"] == 40
    book.assign_plan(None, user_id="u1")
    assert book.summary("u1")["plan"] == "free"
    with pytest.raises(LedgerError, match="no plan named 'gold'; plans: free, pro"):
        book.assign_plan("gold", user_id="u1")
    with pytest.raises(ValueError, match="either a user_id or an org_id"):
        book.assign_plan("pro", user_id="u1", org_id="acme")


def test_the_multiplier_and_counting_modes(open_book: OpenBook) -> None:
    book = open_book({"plans": {"hobby": {"tokens": 1000, "multiplier": 1.5}}})
    book.record_tokens("u1", 333)
    book.record_tokens("u1", 1)
    assert book.summary("u1")["used"] == 501  # 334 x 1.5, rounded up once a month
    cost = open_book({"quotas": {"counts": "cost"}, "plans": {"hobby": {"usd": 2.5}}})
    cost._ledger.record(model="gpt-4o", input_tokens=100_000, user_id="u2", ts=NOW)  # $0.25
    summary = cost.summary("u2")
    assert (summary["unit"], summary["used"], summary["limit"]) == ("usd", 0.25, 2.5)
    assert (summary["remaining"], summary["percent"]) == (2.25, 10)


def test_add_ons_extend_the_month_and_survive_a_restart(open_book: OpenBook, clock: Clock) -> None:
    book = open_book()
    book.record_tokens("u1", 60_000)
    assert (book.summary("u1")["hasAccess"], book.summary("u1")["overage"]) == (False, 10_000)
    grant, created = book.add_grant(50_000, user_id="u1", grant_id="stripe-1", note="pack")
    assert created is True and grant.subject == "user:u1"
    again, created = book.add_grant(50_000, user_id="u1", grant_id="stripe-1", note="pack")
    assert created is False and again == grant  # a retried webhook grants once
    with pytest.raises(StoreError, match="'stripe-1' was granted already, with other values"):
        book.add_grant(70_000, user_id="u1", grant_id="stripe-1")
    restarted = open_book()
    summary = restarted.summary("u1")
    assert (summary["limit"], summary["addOn"], summary["remaining"]) == (100_000, 50_000, 40_000)
    assert (summary["percent"], summary["hasAccess"]) == (60, True)
    assert [g.id for g in restarted.grants(user_id="u1")] == ["stripe-1"]
    # Without rollover, February starts from the plan alone.
    clock.now = at("2026-02-02T00:00")
    assert (restarted.summary("u1")["limit"], restarted.summary("u1")["addOn"]) == (50_000, 0)


def test_rollover_carries_what_is_left_of_unexpired_grants(
    open_book: OpenBook, clock: Clock
) -> None:
    book = open_book({"quotas": {"rollover": True}})
    book.add_grant(50_000, user_id="u1", grant_id="g1")
    book.add_grant(9_000, user_id="u1", grant_id="short", expires_at=at("2026-01-20T00:00"))
    book.record_tokens("u1", 70_000)
    clock.now = at("2026-02-10T00:00")
    # January used 20,000 past the plan: out of the grant that expires first (9,000), then g1.
    assert book.summary("u1")["addOn"] == 50_000 - 11_000


def test_expired_add_ons_and_bad_ones(open_book: OpenBook, clock: Clock) -> None:
    book = open_book()
    book.add_grant(5_000, user_id="u1", expires_at=at("2026-01-11T00:00"))
    assert book.summary("u1")["addOn"] == 5_000
    clock.advance(days=1)
    assert book.summary("u1")["addOn"] == 0
    for bad in (0, -5, 1.5, True, "100", 10**14):
        with pytest.raises(InvalidEventError):
            book.add_grant(bad, user_id="u1")  # type: ignore[arg-type]
    with pytest.raises(InvalidEventError, match="expire before it is granted"):
        book.add_grant(10, user_id="u1", expires_at=at("2026-01-01T00:00"))
    for tokens in (0, -1, 2.5, False):
        with pytest.raises(InvalidEventError, match="tokens must be a whole number above 0"):
            book.record_tokens("u1", tokens)  # type: ignore[arg-type]
    with pytest.raises(InvalidEventError, match="a user id is needed"):
        book.record_tokens("", 10)
    with pytest.raises(ValueError, match="give a user_id or an org_id"):
        book.summary()


def test_the_month_rolls_over_in_the_operators_zone(open_book: OpenBook, clock: Clock) -> None:
    book = open_book({"quotas": {"timezone": "Asia/Shanghai"}})
    clock.now = at("2026-01-31T15:00")  # 23:00 on 31 January in Shanghai
    book.record_tokens("u1", 1000, ts=clock.now)
    assert (book.summary("u1")["month"], book.summary("u1")["used"]) == ("2026-01", 1000)
    assert book.summary("u1")["resetsAt"] == "2026-01-31T16:00:00Z"
    clock.now = at("2026-01-31T23:30")  # still January in UTC, 07:30 on 1 February here
    book.record_tokens("u1", 2000, ts=clock.now)
    summary = book.summary("u1")
    assert (summary["month"], summary["used"], summary["resetsAt"]) == (
        "2026-02",
        2000,
        "2026-02-28T16:00:00Z",
    )
    assert book.summary("u1", at=at("2026-01-20T00:00"))["used"] == 1000


def test_soft_alerts_fire_once_per_threshold_and_resolve(open_book: OpenBook, clock: Clock) -> None:
    book = open_book()
    other = open_book()  # a second process on the same ledger
    seen: list[AlertEvent] = []
    book.subscribe(seen.append)
    other.subscribe(seen.append)
    book.record_tokens("u1", 39_000)
    assert seen == []
    book.record_tokens("u1", 1_000)  # 80 %
    other.record_tokens("u1", 1_000)
    assert other.check_alerts() == [] and book.check_alerts() == []
    assert [(e.state, e.threshold, e.used, e.percent) for e in seen] == [("fired", 80, 40_000, 80)]
    assert seen[0].message == (
        "user:u1 reached 80% of plan hobby in 2026-01: 40,000 tokens of 50,000 tokens (80%)"
    )
    book.record_tokens("u1", 10_000)  # 102 %
    assert [(e.state, e.threshold) for e in seen[1:]] == [("fired", 100)]
    book.add_grant(50_000, user_id="u1")  # 51 %: both resolve, once
    other.check_alerts()
    assert [(e.state, e.threshold, e.percent) for e in seen[2:]] == [
        ("resolved", 80, 51),
        ("resolved", 100, 51),
    ]
    assert book.alerts() == [] and len(book.alerts(open_only=False)) == 2
    book.record_tokens("u1", 30_000)  # 81 %: crossed again, fires again
    assert [(e.state, e.threshold) for e in seen[4:]] == [("fired", 80)]
    assert seen[-1].to_dict()["limitKey"] == "plan:user:u1"
    # A new month: nothing has fired in it yet.
    clock.now = at("2026-02-01T00:00") + timedelta(hours=1)
    book.record_tokens("u1", 45_000, ts=clock.now)
    assert [(e.state, e.window) for e in seen[5:]] == [("fired", "2026-02")]


def test_a_failing_listener_is_logged_and_the_usage_kept(
    open_book: OpenBook, caplog: pytest.LogCaptureFixture
) -> None:
    book = open_book({"plans": {"hobby": {"tokens": 100}}})

    def broken(event: AlertEvent) -> None:
        raise RuntimeError("webhook down")

    unsubscribe = book.subscribe(broken)
    book.record_tokens("u1", 90)
    assert book.summary("u1")["used"] == 90
    assert "quota alert listener" in caplog.text and "webhook down" in caplog.text
    assert "quota alert fired: user:u1 reached 80% of plan hobby" in caplog.text
    unsubscribe()


def test_budgets_alert_and_report_their_use(open_book: OpenBook) -> None:
    book = open_book()
    book.add_budget(Budget("daily", "user", "u1", "day", tokens=1000, hard=False, thresholds=(50,)))
    book.add_budget(Budget("spend", "key", "k1", "month", cost_nanos=10**9, note="team key"))
    with pytest.raises(StoreError, match="a budget with id 'daily' exists already"):
        book.add_budget(Budget("daily", "user", "u2", "day", tokens=1))
    with pytest.raises(LedgerError, match="needs a token limit, a USD limit, or both"):
        book.add_budget(Budget("empty", "user", "u2", "day"))
    seen: list[AlertEvent] = []
    book.subscribe(seen.append)
    book._ledger.record(
        model="gpt-4o", input_tokens=400, output_tokens=200, user_id="u1", api_key_id="k1", ts=NOW
    )
    book.check_alerts(Subject("u1", key_id="k1"))
    assert [(e.name, e.threshold, e.unit) for e in seen] == [("daily", 50, "tokens")]
    rows = book.budget_status()
    assert [
        (r["id"], r["unit"], r["limit"], r["used"], r["percent"], r["windowKey"]) for r in rows
    ] == [
        ("daily", "tokens", 1000, 600, 60, "2026-01-10"),
        ("spend", "usd", 1.0, 0.003, 0.3, "2026-01"),
    ]
    assert rows[1]["resetsAt"] == "2026-02-01T00:00:00Z" and rows[1]["note"] == "team key"
    assert [b.id for b in book.budgets()] == ["daily", "spend"]


def test_every_meter_of_the_month(open_book: OpenBook) -> None:
    book = open_book()
    book.record_tokens("u2", 100, org_id="acme")
    book.record_tokens("u1", 200)
    book.assign_plan("starter", org_id="idle")
    rows = book.meters()
    assert [(r["subject"], r["plan"], r["used"]) for r in rows] == [
        ("user:u1", "hobby", 200),
        ("user:u2", "hobby", 100),
        ("org:acme", "hobby", 100),
        ("org:idle", "starter", 0),
    ]


def test_a_bare_token_count_with_an_id_is_recorded_once(open_book: OpenBook) -> None:
    book = open_book()
    first = book.record_tokens("u1", 500, event_id="sim-1", source="simulated")
    book.record_tokens("u1", 500, event_id="sim-1", source="simulated")
    assert (first.id, first.source, first.model, first.input_tokens) == (
        "sim-1",
        "simulated",
        "unknown",
        500,
    )
    assert book.summary("u1")["used"] == 500


def test_books_with_different_zones_on_one_ledger_recount(open_book: OpenBook) -> None:
    # 23:30 UTC on 31 January: January in UTC, February in Shanghai.
    utc = open_book()
    utc.record_tokens("u1", 100, ts=at("2026-01-31T23:30"))
    shanghai = open_book({"quotas": {"timezone": "Asia/Shanghai"}})  # recounts in its zone
    assert shanghai.summary("u1", at=at("2026-02-01T00:00"))["used"] == 100
    # The UTC book sees the counters moved under it, recounts, and still counts January.
    assert utc.summary("u1", at=at("2026-01-31T23:45"))["used"] == 100
    assert utc.check_and_reserve(Subject("u1"), "r1", Estimate(1)).admitted is True


def test_a_read_only_ledger_in_another_zone_says_so(open_book: OpenBook, ledger_path: Path) -> None:
    open_book().record_tokens("u1", 100)
    ledger = open_ledger(ledger_path, {"quotas": {"timezone": "Asia/Shanghai"}})
    assert ledger.quotas.zone_name == "Asia/Shanghai"  # its book recounted in Shanghai
    ledger.close()
    readonly = Ledger(
        ledger_path,
        config=parse_config({"quotas": {"timezone": "Europe/Berlin"}}),
        readonly=True,
        env={},
    )
    with pytest.raises(LedgerError, match="counts quotas in Asia/Shanghai but the config says "
                       "Europe/Berlin; open it writable once to count"):  # fmt: skip
        readonly.usage_summary("u1")
    readonly.close()

"""Plans from the config, the month window in the operator's zone, what an event counts, add-ons
and the meter summary the usage API returns (the original app's shape and numbers)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from llmledger.errors import ConfigError
from llmledger.events import UsageEvent
from llmledger.quota.meter import Grant, Meter, add_on, counted
from llmledger.quota.periods import month_at, previous_month, window_at
from llmledger.quota.plans import DEFAULT_PLANS, Plan, parse_quotas

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_four_default_plans() -> None:
    quotas = parse_quotas({})
    assert {name: plan.tokens for name, plan in quotas.plans.items()} == {
        "hobby": 50_000,
        "starter": 2_500_000,
        "business": 5_000_000,
        "enterprise": 10_000_000,
    }
    assert {plan.multiplier for plan in quotas.plans.values()} == {1.0}
    assert quotas.plan(None) == ("hobby", DEFAULT_PLANS["hobby"])
    assert quotas.plan("gone") == ("hobby", DEFAULT_PLANS["hobby"])
    assert quotas.settings.timezone == "UTC" and quotas.settings.counts == "total"


def test_plans_and_settings_from_the_config() -> None:
    quotas = parse_quotas(
        {
            "quotas": {"timezone": "Europe/Berlin", "default_plan": "free", "rollover": True},
            "plans": {
                "free": {"tokens": 1000},
                "pro": {"tokens": 10_000, "multiplier": 1.5, "overage": "allow"},
            },
        }
    )
    assert quotas.plan("pro") == ("pro", Plan(tokens=10_000, multiplier=1.5, overage="allow"))
    assert quotas.plan(None)[0] == "free" and quotas.zone == BERLIN
    cost = parse_quotas({"quotas": {"counts": "cost"}, "plans": {"hobby": {"usd": 2.5}}})
    assert cost.allowance(cost.plans["hobby"]) == 2_500_000_000


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"plans": {"hobby": {"tokens": "lots"}}}, "plans.hobby.tokens: Expected `int`"),
        ({"plans": {"hobby": {"tokens": -1}}}, "plans.hobby.tokens: Expected `int` >= 0"),
        ({"plans": {"hobby": {"tokenz": 5}}}, "plans.hobby: Object contains unknown field"),
        ({"plans": {"hobby": {"multiplier": 0}}}, "plans.hobby.multiplier: Expected `float` > 0"),
        (
            {"plans": {"hobby": {"overage": "maybe"}}},
            "plans.hobby.overage: Invalid enum",
        ),
        ({"quotas": {"counts": "words"}}, "quotas.counts: Invalid enum value 'words'"),
        ({"quotas": {"timezone": "Mars/Base"}}, "quotas.timezone: 'Mars/Base' is not an IANA"),
        ({"quotas": {"default_plan": "gold"}}, "quotas.default_plan: no plan named 'gold'"),
        ({"plans": {}}, "plans: at least one plan is needed"),
    ],
)
def test_config_mistakes_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_quotas(raw)
    assert str(caught.value).startswith(message), str(caught.value)


def test_months_are_calendar_months_in_the_operators_zone() -> None:
    # 23:30 UTC on 31 January is already 1 February in Berlin.
    late = at("2026-01-31T23:30:00")
    assert month_at(late, ZoneInfo("UTC")).key == "2026-01"
    february = month_at(late, BERLIN)
    assert february.key == "2026-02"
    assert (february.start, february.end) == (at("2026-01-31T23:00:00"), at("2026-02-28T23:00:00"))
    # March holds the switch to summer time: it ends at 22:00 UTC.
    march = month_at(at("2026-03-15T12:00:00"), BERLIN)
    assert march.end == at("2026-03-31T22:00:00") and march.resets_at == march.end
    assert previous_month(march, BERLIN).key == "2026-02"
    assert month_at(at("2026-12-31T23:30:00"), BERLIN).key == "2027-01"


def test_day_week_and_total_windows() -> None:
    moment = at("2026-01-01T00:30:00")  # a Thursday
    assert window_at("day", moment, BERLIN).key == "2026-01-01"
    week = window_at("week", moment, BERLIN)
    assert (week.key, week.start) == ("2026-W01", at("2025-12-28T23:00:00"))
    total = window_at("total", moment, BERLIN)
    assert total.contains(moment) and total.resets_at is None


def event(**tokens: int) -> UsageEvent:
    return UsageEvent(id="e", ts=at("2026-01-05T10:00:00"), source="proxy", model="m", **tokens)


def test_what_an_event_counts() -> None:
    e = event(input_tokens=100, output_tokens=50, cache_read_tokens=1000, cache_write_tokens=20)
    assert counted(e, "total") == 1170
    assert counted(e, "input+output") == 150
    assert counted(e, "input+output", 1.5) == 225
    odd = event(input_tokens=333)
    assert counted(odd, "total", 1.5) == 500  # 499.5 rounded up, as the original app did
    assert counted(odd, "cost") == 0  # unpriced: unknown cost counts nothing


def meter(used: int, allowance: int = 50_000, extra: int = 0, plan: Plan | None = None) -> Meter:
    month = month_at(at("2026-01-10T12:00:00"), ZoneInfo("UTC"))
    return Meter("hobby", plan or Plan(tokens=allowance), "total", month, used, allowance, extra)


def test_summary_has_the_original_apps_shape_and_numbers() -> None:
    assert meter(15_000).summary() == {
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


def test_summary_edges() -> None:
    over = meter(60_000, extra=5_000).summary()
    assert (over["limit"], over["remaining"], over["overage"]) == (55_000, 0, 5_000)
    assert over["hasAccess"] is False and over["percent"] == 109.09
    allowed = meter(60_000, plan=Plan(tokens=50_000, overage="allow")).summary()
    assert allowed["hasAccess"] is True and allowed["overage"] == 10_000
    nothing = meter(10, allowance=0).summary()
    assert (nothing["percent"], nothing["remaining"], nothing["hasAccess"]) == (0, 0, False)


def test_add_ons_extend_the_month_they_were_bought_in() -> None:
    zone = ZoneInfo("UTC")
    february = month_at(at("2026-02-10T00:00:00"), zone)
    january = previous_month(february, zone)
    grants = [
        Grant("jan", 50_000, at("2026-01-20T00:00:00")),
        Grant("feb", 10_000, at("2026-02-02T00:00:00")),
        Grant("gone", 7_000, at("2026-02-03T00:00:00"), expires_at=at("2026-02-05T00:00:00")),
    ]
    now = at("2026-02-10T00:00:00")
    used = {"2026-01": 70_000}
    common = {"allowance": 50_000, "used_by_month": used, "earlier_months": [january], "now": now}
    assert add_on(grants, february, rollover=False, **common) == 10_000
    # With rollover January's 20,000 over the plan came out of its grant: 30,000 are left.
    assert add_on(grants, february, rollover=True, **common) == 30_000 + 10_000

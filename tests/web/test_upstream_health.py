"""The operators' upstream account health rows (gateway/dashboard_access.py): requests today
against the cap (yesterday's count is not today's), the state an account is in, and its
attempts split into OK and errors."""

from __future__ import annotations

from llmledger.gateway.config import AccountConfig
from llmledger.gateway.dashboard_access import account_health
from llmledger.gateway.upstreams import AccountState

TODAY = 20_000
NOW = 1_000.0


def account(cap: int | None = None, requests: int = 0, day: int = TODAY) -> AccountState:
    config = AccountConfig(name="a", api_key="sk-secret", daily_request_cap=cap)
    return AccountState(config, "oai/a", day=day, requests_today=requests)


def test_requests_today_against_the_cap() -> None:
    row = account_health(account(cap=200, requests=50), {"ok": 48, "429": 2}, TODAY, NOW)
    assert row == {
        "account": "oai/a",
        "upstream": "oai",
        "requestsToday": 50,
        "dailyCap": 200,
        "capPercent": 25.0,
        "state": "ok",
        "restingSeconds": 0,
        "modelsResting": 0,
        "lastFailure": None,
        "ok": 48,
        "errors": 2,
        "attempts": {"ok": 48, "429": 2},
    }
    assert "sk-secret" not in repr(row)


def test_yesterdays_count_is_not_todays() -> None:
    row = account_health(account(cap=10, requests=10, day=TODAY - 1), {}, TODAY, NOW)
    assert (row["requestsToday"], row["state"], row["capPercent"]) == (0, "ok", 0.0)


def test_the_states() -> None:
    capped = account(cap=10, requests=10)
    assert account_health(capped, {}, TODAY, NOW)["state"] == "capped"
    resting = account()
    resting.cooldown_until = NOW + 42.5
    resting.last_failure = "401"
    row = account_health(resting, {"401": 1}, TODAY, NOW)
    assert (row["state"], row["restingSeconds"], row["errors"]) == ("resting", 42.5, 1)
    one_model = account()
    one_model.model_rest = {"gpt-5": NOW + 30, "gpt-4o": NOW - 1}  # one rest already over
    row = account_health(one_model, {}, TODAY, NOW)
    assert (row["state"], row["modelsResting"]) == ("models-resting", 1)
    uncapped = account(requests=7)
    assert account_health(uncapped, {}, TODAY, NOW)["capPercent"] is None

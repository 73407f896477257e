"""Plans, add-ons, budgets and the usage API through a real ``llmledger serve`` process in front
of a fake upstream on loopback (every chat answer: 20 prompt + 5 completion tokens)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest

from llmledger.events import UsageEvent
from tests.gateway.conftest import GatewayProcess, tagged, wait_for
from tests.gateway.quota_fixtures import (
    ADMIN,
    REQUEST_TOKENS,
    FixedUsageUpstream,
    as_user,
    chat,
    quota_config,
    quota_ledger,
    simulate,
    start_gateway,
    summary,
)

ZONE = ZoneInfo("Asia/Tokyo")
PLANS = """
[plans.hobby]
tokens = 50000
[plans.starter]
tokens = 2500000
[plans.business]
tokens = 5000000
[plans.enterprise]
tokens = 10000000
[plans.tiny]
tokens = 100
[plans.zero]
tokens = 0
"""


@pytest.fixture(scope="module")
def metered(
    fixed: FixedUsageUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("quota-gateway")
    config = quota_config(
        fixed.port,
        workdir,
        quotas='timezone = "Asia/Tokyo"',
        plans=PLANS,
        server="allow_simulation = true\nsimulations_per_minute = 600",
    )
    process = start_gateway(workdir, config)
    yield process
    process.stop()


@pytest.fixture
def client(metered: GatewayProcess) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=metered.url, timeout=10) as http:
        yield http


def month_bounds(now: datetime) -> tuple[str, datetime, datetime]:
    """This month in Tokyo: its key, and its start and end in UTC."""
    local = now.astimezone(ZONE)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start.strftime("%Y-%m"), start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def assign(client: httpx2.Client, user: str, plan: str | None) -> None:
    reply = client.put(
        "/api/admin/assignments", json={"user_id": user, "plan": plan}, headers=ADMIN
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"subject": f"user:{user}", "plan": plan}


def test_the_meter_is_the_original_apps(metered: GatewayProcess, client: httpx2.Client) -> None:
    month, _, end = month_bounds(datetime.now(timezone.utc))
    reply = simulate(client, "original", 15000)
    assert reply.status_code == 200, reply.text
    assert reply.json()["ok"] is True
    assert reply.json()["message"] == "Simulated 15000 tokens"
    assert reply.json()["tokensAdded"] == 15000
    expected = {
        "month": month,
        "used": 15000,
        "limit": 50000,
        "remaining": 35000,
        "percent": 30,
        "addOn": 0,
        "plan": "hobby",
        "unit": "tokens",
        "resetsAt": utc_text(end),
        "overage": 0,
        "hasAccess": True,
    }
    assert reply.json()["summary"] == expected
    assert summary(client, as_user("original")) == expected
    key, _ = metered.create_key("original")
    by_key = {"authorization": f"Bearer {key}", "x-user-id": "someone-else"}
    assert summary(client, by_key) == expected  # a key's user, whatever the header says
    cookie = {"authorization": as_user("x")["authorization"], "cookie": "chat_user=original"}
    assert summary(client, cookie) == expected
    # A limit of 0: percent 0, never an error.
    assign(client, "nothing-allowed", "zero")
    zero = summary(client, as_user("nothing-allowed"))
    assert (zero["limit"], zero["percent"], zero["remaining"], zero["plan"]) == (0, 0, 0, "zero")


def test_a_hard_limit_answers_429_before_any_upstream_byte(
    metered: GatewayProcess, fixed: FixedUsageUpstream, client: httpx2.Client
) -> None:
    _, _, end = month_bounds(datetime.now(timezone.utc))
    assign(client, "capped", "tiny")
    key, _ = metered.create_key("capped")
    assert simulate(client, "capped", 100).status_code == 200
    reply = chat(client, key, "capped-openai")
    assert reply.status_code == 429
    assert int(reply.headers["retry-after"]) > 0
    error = reply.json()["error"]
    assert error["type"] == "budget_exceeded"
    assert (error["limit"], error["used"], error["resets_at"]) == (100, 100, utc_text(end))
    assert error["message"].startswith("monthly limit of plan 'tiny' for user:capped reached")
    anthropic = client.post(
        "/v1/messages",
        json={
            "model": "claude-x",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"x-api-key": key, "x-test-tag": "capped-anthropic"},
    )
    assert anthropic.status_code == 429
    assert anthropic.json()["type"] == "error"
    assert anthropic.json()["error"]["type"] == "budget_exceeded"
    assert tagged(fixed, "capped-openai") == [] and tagged(fixed, "capped-anthropic") == []
    assert metered.events(user_id="capped", source="proxy") == []


def test_addons_extend_the_limit_and_survive_a_restart(
    fixed: FixedUsageUpstream, tmp_path: Path
) -> None:
    config = quota_config(fixed.port, tmp_path, plans=PLANS)
    process = start_gateway(tmp_path, config)
    try:
        with httpx2.Client(base_url=process.url, timeout=10) as http:
            purchase = {"user_id": "buyer", "tokens": 50000, "id": "order-1", "note": "top-up"}
            first = http.post("/api/admin/addons", json=purchase, headers=ADMIN)
            assert first.status_code == 201, first.text
            again = http.post("/api/admin/addons", json=purchase, headers=ADMIN)
            assert again.status_code == 200 and again.json()["created"] is False
            meter = summary(http, as_user("buyer"))
            assert (meter["limit"], meter["addOn"], meter["remaining"]) == (100000, 50000, 100000)
        process.stop()
        process.start()
        with httpx2.Client(base_url=process.url, timeout=10) as http:
            meter = summary(http, as_user("buyer"))
            assert (meter["limit"], meter["addOn"]) == (100000, 50000)
            listed = http.get("/api/admin/addons", params={"user": "buyer"}, headers=ADMIN)
            assert [a["id"] for a in listed.json()["addons"]] == ["order-1"]
            assert listed.json()["addons"][0]["tokens"] == 50000
    finally:
        process.stop()


def test_the_month_rolls_over_in_the_operators_zone(
    metered: GatewayProcess, client: httpx2.Client
) -> None:
    month, start, end = month_bounds(datetime.now(timezone.utc))
    # Tokyo's month starts at 15:00 UTC the day before: an hour before it is last month's.
    with quota_ledger(metered) as ledger:
        for tokens, moment in (
            (700, start - timedelta(hours=1)),
            (300, start + timedelta(hours=1)),
        ):
            ledger.record(
                UsageEvent(model="gpt-4o-mini", ts=moment, input_tokens=tokens, user_id="tokyo")
            )
    meter = summary(client, as_user("tokyo"))
    assert (meter["month"], meter["used"], meter["resetsAt"]) == (month, 300, utc_text(end))
    days = client.get(
        "/api/account/usage/history",
        params={"tz": "Asia/Tokyo", "by": "day"},
        headers=as_user("tokyo"),
    ).json()
    last_day = (start - timedelta(hours=1)).astimezone(ZONE).date().isoformat()
    first_day = start.astimezone(ZONE).date().isoformat()
    assert [(r["key"], r["totalTokens"]) for r in days["rows"]] == [
        (last_day, 700),
        (first_day, 300),
    ]
    assert days["timezone"] == "Asia/Tokyo"


def _fired(process: GatewayProcess, user: str, threshold: int) -> int:
    needle = f"quota alert fired: user:{user} reached {threshold}% of"
    return sum(1 for line in process.stderr if needle in line)


def test_soft_alerts_fire_once_and_resolve(metered: GatewayProcess, client: httpx2.Client) -> None:
    assign(client, "alerted", "tiny")
    key, _ = metered.create_key("alerted")
    for _ in range(4):  # 25, 50, 75, 100 of 100 tokens
        assert chat(client, key, "alerted").status_code == 200
    assert chat(client, key, "alerted").status_code == 429

    def alerts(state: str = "all") -> list[dict[str, Any]]:
        reply = client.get(
            "/api/account/alerts", params={"state": state}, headers=as_user("alerted")
        )
        return sorted(reply.json()["alerts"], key=lambda a: a["threshold"])

    wait_for(lambda: len(alerts("open")) == 2, timeout=5)
    assert [(a["threshold"], a["open"], a["limitKey"]) for a in alerts()] == [
        (80, True, "plan:user:alerted"),
        (100, True, "plan:user:alerted"),
    ]
    assert simulate(client, "alerted", 10).status_code == 200  # above both: nothing new
    time.sleep(0.5)
    assert (_fired(metered, "alerted", 80), _fired(metered, "alerted", 100)) == (1, 1)
    addon = {"user_id": "alerted", "tokens": 100, "id": "alerted-addon"}
    assert client.post("/api/admin/addons", json=addon, headers=ADMIN).status_code == 201
    # 110 of 200: both thresholds resolve, once.
    wait_for(lambda: alerts("open") == [], timeout=5)
    resolved = alerts()
    assert [(a["threshold"], a["open"]) for a in resolved] == [(80, False), (100, False)]
    assert all(a["resolvedAt"] is not None for a in resolved)
    assert (_fired(metered, "alerted", 80), _fired(metered, "alerted", 100)) == (1, 1)


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) of an SSE stream; comments as ("comment", text)."""
    name, data = "message", ""
    for line in lines:
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif line == "" and data:
            yield name, data
            name, data = "message", ""


def test_the_live_stream_delivers_an_update_after_a_request(
    metered: GatewayProcess, client: httpx2.Client
) -> None:
    key, _ = metered.create_key("streamer")
    auth = {"authorization": f"Bearer {key}"}
    with (
        httpx2.Client(base_url=metered.url, timeout=10) as listener,
        listener.stream("GET", "/api/account/usage/stream", headers=auth) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream.iter_lines())
        name, data = next(events)
        assert (name, json.loads(data)["summary"]["used"]) == ("usage", 0)
        sent_at: list[float] = []

        def request() -> None:
            time.sleep(0.2)
            assert chat(client, key, "streamer").status_code == 200
            sent_at.append(time.monotonic())

        worker = threading.Thread(target=request)
        worker.start()
        comments = 0
        for name, data in events:
            if name == "comment":
                comments += 1
                continue
            assert name == "usage"
            assert json.loads(data)["summary"]["used"] == REQUEST_TOKENS
            break
        worker.join()
        assert time.monotonic() - sent_at[0] < 1.0
        for name, _ in events:  # idle: keep-alive comments (every 0.5 s here)
            if name == "comment":
                break


def test_simulate_is_for_admins_and_audited(metered: GatewayProcess, client: httpx2.Client) -> None:
    key, _ = metered.create_key("curious")
    as_key = {"authorization": f"Bearer {key}"}
    assert (
        client.post("/api/test/simulate-tokens", json={"tokens": 5}, headers=as_key).status_code
        == 403
    )
    assert client.post("/api/test/simulate-tokens", json={"tokens": 5}).status_code == 401
    wrong = {"authorization": "Bearer not-the-admin-token-at-all"}
    assert (
        client.post("/api/test/simulate-tokens", json={"tokens": 5}, headers=wrong).status_code
        == 401
    )
    reply = client.post(
        "/api/test/simulate-tokens",
        json={"tokens": [1000, 2000]},
        headers={**ADMIN, "x-user-id": "simulated-user"},
    )
    assert reply.status_code == 200, reply.text
    assert [s["summary"]["used"] for s in reply.json()["steps"]] == [1000, 3000]
    lines = (metered.workdir / "audit.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    mine = [e for e in entries if e.get("user") == "simulated-user"]
    assert len(mine) == 1
    assert mine[0]["action"] == "simulate-tokens"
    assert mine[0]["actor"] == "admin@127.0.0.1"
    assert (mine[0]["tokens"], mine[0]["total"]) == ([1000, 2000], 3000)
    datetime.fromisoformat(mine[0]["ts"])
    events = metered.events(user_id="simulated-user")
    assert sorted(e.input_tokens for e in events) == [1000, 2000]
    assert {e.source for e in events} == {"simulated"}
    assert ADMIN["authorization"].split()[1] not in "".join(lines)
    assert ADMIN["authorization"].split()[1] not in "".join(metered.stderr)


def test_simulate_is_404_when_off(gateway: GatewayProcess) -> None:
    with httpx2.Client(base_url=gateway.url, timeout=10) as http:
        reply = http.post("/api/test/simulate-tokens", json={"tokens": 1000}, headers=ADMIN)
        assert reply.status_code == 404
        # No admin token configured: the admin routes are off too.
        assert http.get("/api/admin/meters", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tokens": -5}, "tokens"),
        ({"tokens": 0}, "tokens"),
        ({"tokens": 10**15}, "tokens"),
        ({"tokens": 2.5}, "tokens"),
        ({"tokens": "1000"}, "tokens"),
        ({"tokens": [1, "x"]}, "tokens[1]"),
        ({"tokens": 5, "bonus": 1}, "bonus"),
        ({"tokens": 5, "user_id": 7}, "user_id"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(
    client: httpx2.Client, body: dict[str, Any], param: str
) -> None:
    reply = client.post("/api/test/simulate-tokens", json={"user_id": "u", **body}, headers=ADMIN)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["param"] == param
    assert reply.json()["error"]["message"].startswith(f"body.{param}: ")


def test_who_may_read_what(metered: GatewayProcess, client: httpx2.Client) -> None:
    key, _ = metered.create_key("reader")
    as_key = {"authorization": f"Bearer {key}"}
    assert client.get("/api/account/usage").status_code == 401
    assert (
        client.get("/api/account/usage", headers={"authorization": "Bearer llk_nope"}).status_code
        == 401
    )
    assert client.get("/api/admin/meters", headers=as_key).status_code == 403
    assert client.get("/api/admin/meters", headers=as_user("reader")).status_code == 403
    page = client.get(
        "/api/admin/meters", params={"sort": "used", "order": "desc", "limit": 2}, headers=ADMIN
    ).json()
    assert len(page["meters"]) == 2 and page["total"] >= 4 and page["limit"] == 2
    assert page["meters"][0]["used"] >= page["meters"][1]["used"]
    bad = client.get("/api/admin/meters", params={"limit": "0"}, headers=ADMIN)
    assert (bad.status_code, bad.json()["error"]["param"]) == (422, "limit")
    spec = client.get("/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert {"/api/account/usage", "/api/admin/meters", "/api/test/simulate-tokens"} <= set(
        spec["paths"]
    )

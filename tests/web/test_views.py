"""The dashboard's routes in-process (``httpx2.ASGITransport``): every JSON view against the
CLI's reports over the same ledger, bad parameters, the page and its assets, and the gateway
serving it all at ``/`` while its own routes keep winning."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from llmledger import Ledger
from llmledger.config import Config
from llmledger.gateway import create_app
from llmledger.gateway.config import parse_gateway_config
from llmledger.gateway.keys import issue_key
from llmledger.report.timezones import resolve_zone
from llmledger.web import create_dashboard_app
from tests.web.conftest import CliResult
from tests.web.seed import UNPRICED_MODEL, YEAR

Cli = Callable[..., CliResult]
Scenario = Callable[[httpx2.AsyncClient], Awaitable[None]]


def run(app: Any, scenario: Scenario, client: tuple[str, int] = ("127.0.0.1", 5000)) -> None:
    async def main() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app, client=client)
            async with httpx2.AsyncClient(transport=transport, base_url="http://dash") as http:
                await scenario(http)

    asyncio.run(main())


def report(cli: Cli, seeded_path: Path, *argv: str) -> Any:
    result = cli(*argv, "--json", "--tz", "UTC", "--no-scan", "--db", str(seeded_path))
    assert result.code == 0, result.err
    return result.json()


def test_views_answer_as_the_reports(seeded: Ledger, seeded_path: Path, cli: Cli) -> None:
    app = create_dashboard_app(seeded, admin=True, zone=resolve_zone("UTC"))
    window = ("--since", f"{YEAR}-03-01", "--until", f"{YEAR}-03-31")
    daily = report(cli, seeded_path, "daily", *window)
    by_source = report(cli, seeded_path, "daily", "--group-by", "source", *window)
    models = report(cli, seeded_path, "models", *window)
    sessions = report(cli, seeded_path, "sessions", "--order", "desc", *window)
    users = report(cli, seeded_path, "models", "--group-by", "user", *window)
    query = f"since={YEAR}-03-01&until={YEAR}-03-31"

    async def scenario(http: httpx2.AsyncClient) -> None:
        reply = await http.get(f"/api/dashboard/daily?{query}")
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["cache-control"] == "no-store"
        body = reply.json()
        ratios = [row.pop("cacheHitRatio") for row in body["daily"]]
        assert body == daily
        for row, ratio in zip(daily["daily"], ratios):
            prompt = row["inputTokens"] + row["cacheReadTokens"] + row["cacheCreationTokens"]
            assert ratio == round(row["cacheReadTokens"] / prompt, 6)
        body = (await http.get(f"/api/dashboard/daily?{query}&groupBy=source")).json()
        for row in body["daily"]:
            del row["cacheHitRatio"]
        assert body == by_source
        assert (await http.get(f"/api/dashboard/models?{query}")).json() == models
        body = (await http.get(f"/api/dashboard/sessions?{query}&limit=5")).json()
        assert body["sessionCount"] == len(sessions["sessions"])
        assert body["sessions"] == sessions["sessions"][:5]
        assert body["totals"] == sessions["totals"]
        cache = (await http.get(f"/api/dashboard/cache?{query}")).json()
        assert [d["date"] for d in cache["daily"]] == [r["date"] for r in daily["daily"]]
        assert cache["daily"][0]["cacheHitRatio"] == ratios[0]
        unpriced = (await http.get(f"/api/dashboard/unpriced?{query}")).json()
        model = next(m for m in models["models"] if m["model"] == UNPRICED_MODEL)
        assert unpriced["unpricedModels"] == [
            {
                "model": UNPRICED_MODEL,
                "unpricedRequests": model["requests"],
                "requests": model["requests"],
                "totalTokens": model["totalTokens"],
            }
        ]
        top = (await http.get(f"/api/dashboard/admin/top?{query}&by=user")).json()
        per_user: dict[str, float] = {}
        for row in users["models"]:
            per_user[row["userId"]] = per_user.get(row["userId"], 0) + row["totalTokens"]
        assert {r["key"]: r["totalTokens"] for r in top["rows"]} == per_user
        costs = [r["totalCost"] for r in top["rows"]]
        assert costs == sorted(costs, reverse=True)
        day = (await http.get(f"/api/dashboard/day/{YEAR}-03-04?tz=UTC")).json()
        row = next(r for r in daily["daily"] if r["date"] == f"{YEAR}-03-04")
        assert day["totals"] == {
            "tokens": row["totalTokens"],
            "cost": row["totalCost"],
            "messages": row["requests"],
        }
        assert {e["modelId"] for e in day["sources"]} == set(row["modelsUsed"])

    run(app, scenario)


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        ("/api/dashboard/graph?tz=Mars/Base", 400, "bad_query", "tz: unknown time zone"),
        ("/api/dashboard/graph?since=2025-02-30", 400, "bad_query", "since='2025-02-30' is not"),
        ("/api/dashboard/graph?colour=red", 400, "bad_query", "unknown parameter 'colour'"),
        ("/api/dashboard/daily?groupBy=planet", 400, "bad_query", "groupBy='planet': use one"),
        ("/api/dashboard/sessions?limit=0", 400, "bad_query", "limit='0' is not a whole"),
        ("/api/dashboard/day/2025-13-01", 400, "bad_query", "day='2025-13-01' is not a date"),
        ("/api/dashboard/day/2025-01-01", 404, "not_found", "nothing at /api/dashboard/day/"),
        ("/api/dashboard/admin/top?by=user", 404, "not_found", "GET /api/dashboard/admin/top"),
        ("/nope", 404, "not_found", "GET /nope: Not Found"),
        ("/static/nope.js", 404, "not_found", "GET /static/nope.js: Not Found"),
    ],
)
def test_bad_requests_get_json_errors(
    seeded: Ledger, path: str, status: int, code: str, message: str
) -> None:
    app = create_dashboard_app(seeded, zone=resolve_zone("UTC"))

    async def scenario(http: httpx2.AsyncClient) -> None:
        reply = await http.get(path)
        assert reply.status_code == status
        error = reply.json()["error"]
        assert error["code"] == code and error["message"].startswith(message), error

    run(app, scenario)


def test_the_page_and_its_assets(seeded: Ledger) -> None:
    app = create_dashboard_app(seeded, zone=resolve_zone("Europe/Berlin"))

    async def scenario(http: httpx2.AsyncClient) -> None:
        page = await http.get("/")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        policy = page.headers["content-security-policy"]
        assert "connect-src 'self'" in policy and "script-src 'self' 'sha256-" in policy
        html = page.text
        config = json.loads(html.split('id="llmledger-config">')[1].split("</script>")[0])
        assert set(config) == {"version", "defaultTimezone", "today"}  # the rest as by default
        assert config["defaultTimezone"] == "Europe/Berlin"
        assert "meter.js" not in html  # the local dashboard has no usage API
        for name in ("app.js", "dashboard.css", "meter.css", "format.js", "graph3d.js"):
            assert f'"static/{name}"' in html
            asset = await http.get(f"/static/{name}")
            assert asset.status_code == 200 and len(asset.content) > 500
        meter = await http.get("/static/meter.js")
        assert "/api/account/usage" in meter.text
        for element in ("usage-meter-title", "usage-meter-percent", "usage-meter-fill"):
            assert f'id="{element}"' in html
        assert 'id="usage-meter-track"' in html
        head = await http.head("/")
        assert head.status_code == 200 and head.content == b""

    run(app, scenario)


GATEWAY = {
    "gateway": {"access_log": "off"},
    "upstreams": [
        {
            "name": "oai",
            "protocol": "openai",
            "base_url": "https://llm.example/v1",
            "models": ["gpt-*"],
            "accounts": [{"name": "a", "api_key_env": "K"}],
        }
    ],
}


class NoUpstream:
    async def send(self, request: Any) -> Any:
        raise AssertionError("no upstream call expected")

    async def close(self) -> None:
        pass


ADMIN_TOKEN = "admin-token-for-the-dashboard-0123"


def _gateway_ledger(tmp_path: Path) -> tuple[Ledger, str]:
    """A ledger with alice's and bob's usage, and a ledger key of alice's."""
    ledger = Ledger(tmp_path / "ledger.db", config=Config())
    ledger.record(model="gpt-5", input_tokens=10, output_tokens=5, ts="2025-05-01T10:00:00Z")
    ledger.record(
        model="gpt-5", input_tokens=100, output_tokens=1, user_id="alice", ts="2025-05-02T10:00:00Z"
    )
    ledger.record(
        model="gpt-5", input_tokens=7, output_tokens=3, user_id="bob", ts="2025-05-03T10:00:00Z"
    )
    key, _ = issue_key(ledger.keys, user_id="alice")
    return ledger, key


def test_the_gateway_serves_the_dashboard_at_the_root(tmp_path: Path) -> None:
    ledger, alice_key = _gateway_ledger(tmp_path)
    raw = {**GATEWAY, "server": {"admin_token_env": "ADMIN"}}
    config = parse_gateway_config(raw, {"K": "sk-upstream", "ADMIN": ADMIN_TOKEN})
    app = create_app(config, ledger, transport=NoUpstream())  # type: ignore[arg-type]
    alice = {"authorization": f"Bearer {alice_key}"}
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    graph_url = "/api/dashboard/graph?year=2025&tz=UTC"

    async def scenario(http: httpx2.AsyncClient) -> None:
        page = await http.get("/")
        assert page.status_code == 200 and 'id="graph-2d"' in page.text
        assert '"static/meter.js"' in page.text  # the gateway shows the caller's meter
        assert '"static/auth.js"' in page.text and '"signIn":true' in page.text
        assert 'rel="preload"' not in page.text  # a preload would go without credentials
        # No credentials, even from this machine: the usage API's 401.
        refused = await http.get(graph_url)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "missing_api_key"
        wrong = await http.get(graph_url, headers={"authorization": "Bearer sk-not-a-key"})
        assert wrong.status_code == 401
        # A user's key: their own events only, and their own sources and years.
        own = (await http.get(graph_url, headers=alice)).json()
        assert [d["date"] for d in own["contributions"]] == ["2025-05-02"]
        assert own["summary"]["totalTokens"] == 101
        who = (await http.get("/api/dashboard/access", headers=alice)).json()
        assert who == {"user": "alice", "admin": False, "signIn": True}
        daily = (await http.get("/api/dashboard/daily?tz=UTC", headers=alice)).json()
        assert [row["date"] for row in daily["daily"]] == ["2025-05-02"]
        day = await http.get("/api/dashboard/day/2025-05-03?tz=UTC", headers=alice)
        assert day.status_code == 404  # bob's day is not hers
        for path in ("admin/top?by=user&tz=UTC", "admin/upstreams"):
            denied = await http.get(f"/api/dashboard/{path}", headers=alice)
            assert denied.status_code == 403, path
            assert denied.json()["error"]["code"] == "admin_required"
        # The admin token: the whole ledger and the operators' views.
        whole = (await http.get(graph_url, headers=admin)).json()
        assert [d["date"] for d in whole["contributions"]] == [
            "2025-05-01",
            "2025-05-02",
            "2025-05-03",
        ]
        top = (await http.get("/api/dashboard/admin/top?by=user&tz=UTC", headers=admin)).json()
        assert {row["key"]: row["totalTokens"] for row in top["rows"]} == {
            "alice": 101,
            "bob": 10,
            None: 15,
        }
        health = (await http.get("/api/dashboard/admin/upstreams", headers=admin)).json()
        assert [row["account"] for row in health["accounts"]] == ["oai/a"]
        assert health["accounts"][0]["state"] == "ok"
        assert health["accounts"][0]["dailyCap"] is None
        # The gateway's own routes still win.
        healthz = await http.get("/healthz")
        assert healthz.status_code == 200 and healthz.json()["status"] == "ok"
        models = await http.get("/v1/models")
        assert models.status_code == 401  # still the gateway's, still asking for a key
        missing = await http.get("/nope")
        assert missing.json()["error"]["code"] == "not_found"
        # Simulation is off: no test page.
        assert (await http.get("/test_token_usage.html")).status_code == 404

    try:
        run(app, scenario, client=("203.0.113.7", 40000))
    finally:
        ledger.close()


def test_the_test_page_only_when_simulation_is_on(tmp_path: Path) -> None:
    ledger, _ = _gateway_ledger(tmp_path)
    raw = {**GATEWAY, "server": {"admin_token_env": "ADMIN", "allow_simulation": True}}
    config = parse_gateway_config(raw, {"K": "sk-upstream", "ADMIN": ADMIN_TOKEN})
    app = create_app(config, ledger, transport=NoUpstream())  # type: ignore[arg-type]

    async def scenario(http: httpx2.AsyncClient) -> None:
        page = await http.get("/test_token_usage.html")
        assert page.status_code == 200
        html = page.text
        for element in ("usage-meter-title", "usage-meter-percent", "usage-meter-fill"):
            assert f'id="{element}"' in html
        assert 'id="simulate-amount" type="number" min="1" step="1" value="1000"' in html
        assert ">Simulate Token Usage</button>" in html and ">Refresh Usage</button>" in html
        for script in ("auth.js", "meter.js", "test-usage.js"):
            assert f'"static/{script}"' in html
        policy = page.headers["content-security-policy"]
        assert "script-src 'self' 'sha256-" in policy and "connect-src 'self'" in policy
        for name in ("test-usage.js", "auth.js", "panel-operators.js"):
            assert (await http.get(f"/static/{name}")).status_code == 200

    try:
        run(app, scenario)
    finally:
        ledger.close()


def test_behind_a_trusted_proxy_the_named_user_sees_their_own(tmp_path: Path) -> None:
    ledger, _ = _gateway_ledger(tmp_path)
    raw = {**GATEWAY, "server": {"trusted_proxies": ["127.0.0.1"]}}
    config = parse_gateway_config(raw, {"K": "sk-upstream"})
    app = create_app(config, ledger, transport=NoUpstream())  # type: ignore[arg-type]
    graph_url = "/api/dashboard/graph?year=2025&tz=UTC"

    async def scenario(http: httpx2.AsyncClient) -> None:
        by_header = (await http.get(graph_url, headers={"x-user-id": "bob"})).json()
        assert [d["date"] for d in by_header["contributions"]] == ["2025-05-03"]
        by_cookie = await http.get(graph_url, headers={"cookie": "chat_user=alice"})
        assert [d["date"] for d in by_cookie.json()["contributions"]] == ["2025-05-02"]
        who = (await http.get("/api/dashboard/access", headers={"x-user-id": "bob"})).json()
        assert who == {"user": "bob", "admin": False, "signIn": True}
        nobody = await http.get(graph_url)  # the proxy named no one
        assert nobody.status_code == 401

    async def elsewhere(http: httpx2.AsyncClient) -> None:
        spoofed = await http.get(graph_url, headers={"x-user-id": "bob"})
        assert spoofed.status_code == 401  # only the trusted proxy may name a user

    try:
        run(app, scenario)
        run(app, elsewhere, client=("203.0.113.7", 40000))
    finally:
        ledger.close()

"""The dashboard and the simulation page as a real ``llmledger serve`` serves them, in headless
Chromium, with a fake upstream on loopback: the browser signs in with a ledger key or the admin
token (the usage API's credentials, no loopback exception), the meter's ids, width, text and
tooltip match ``GET /api/account/usage`` after a simulation and after a real metered request
(live, from the stream, without a reload), a user sees only their own usage, the admin every
user's meter and the upstream accounts' health, with CSV and JSON exports. Screenshots of each
view (light and dark, desktop and phone) land in tests/web/screenshots/."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from llmledger.query import EventFilter
from tests.gateway.conftest import GatewayProcess
from tests.gateway.quota_fixtures import (
    ADMIN,
    ADMIN_TOKEN,
    REQUEST_TOKENS,
    TOKENS_ENV,
    FixedUsageUpstream,
    chat,
    quota_config,
    quota_ledger,
)
from tests.web.browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    Watched,
    launch_browser,
    ready,
    screenshot,
    set_theme,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PLAN_TOKENS = 10_000
CAP = 100
# A first visit asks who it is before anyone signed in: Chromium logs the 401 as an error.
UNSIGNED = ("status of 401",)


@dataclass
class Served:
    gateway: GatewayProcess
    http: httpx2.Client
    keys: dict[str, str]  # user -> ledger key

    @property
    def url(self) -> str:
        return self.gateway.url

    def usage(self, user: str) -> dict[str, Any]:
        reply = self.http.get(
            "/api/account/usage", headers={"authorization": f"Bearer {self.keys[user]}"}
        )
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()["summary"]
        return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_browser()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    upstream = FixedUsageUpstream()
    upstream.start_in_thread()
    workdir = tmp_path_factory.mktemp("served")
    config = quota_config(
        upstream.port,
        workdir,
        quotas='default_plan = "hobby"',
        plans=f"[plans.hobby]\ntokens = {PLAN_TOKENS}",
        server="allow_simulation = true\nsimulations_per_minute = 600",
    ).replace(
        'name = "b"\n  api_key_env = "FAKE_KEY_B"',
        f'name = "b"\n  api_key_env = "FAKE_KEY_B"\n  daily_request_cap = {CAP}',
    )
    assert f"daily_request_cap = {CAP}" in config
    gateway = GatewayProcess(workdir, config, env=TOKENS_ENV)
    keys = {user: gateway.create_key(user)[0] for user in ("alice", "bob", "carol")}
    gateway.start()
    with httpx2.Client(base_url=gateway.url, timeout=10) as http:
        try:
            yield Served(gateway, http, keys)
        finally:
            assert gateway.stop() == 0
            upstream.stop()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport=DESKTOP, color_scheme="light", accept_downloads=True)
    watch = Watched(context, allowed_errors=UNSIGNED)
    yield watch
    watch.assert_clean()
    context.close()


def js_number(value: float) -> str:
    """A number as JavaScript's String() writes it (10 → "10", 10.25 → "10.25")."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def percent_text(percent: float) -> str:
    """meter.js's "X% used": rounded to a tenth, half up."""
    rounded = math.floor(percent * 10 + 0.5) / 10
    return (str(int(rounded)) if rounded.is_integer() else f"{rounded:.1f}") + "% used"


def meter_shown(page: Page) -> dict[str, str]:
    shown: dict[str, str] = page.evaluate(
        """() => ({
            title: document.getElementById('usage-meter-title').textContent,
            text: document.getElementById('usage-meter-percent').textContent,
            width: document.getElementById('usage-meter-fill').style.width,
            tip: document.getElementById('usage-meter-track').title,
            hidden: String(document.getElementById('usage-meter').hidden),
            state: document.getElementById('usage-meter').dataset.state || '',
        })"""
    )
    return shown


def expected_meter(summary: dict[str, Any]) -> dict[str, str]:
    percent = max(0.0, float(summary["percent"]))
    return {
        "title": "Usage",
        "text": percent_text(percent),
        "width": js_number(min(percent, 100.0)) + "%",
        "tip": f"{summary['used']:,} / {summary['limit']:,} tokens · plan {summary['plan']}",
        "hidden": "false",
        "state": "over" if percent > 100 else "warn" if percent >= 80 else "ok",
    }


def wait_for_meter(page: Page, summary: dict[str, Any]) -> None:
    """Until the meter shows ``summary`` (its tooltip carries the exact count)."""
    tip = expected_meter(summary)["tip"]
    page.wait_for_function(
        "tip => document.getElementById('usage-meter-track').title === tip", arg=tip
    )
    assert meter_shown(page) == expected_meter(summary)


def sign_in(page: Page, token: str) -> None:
    page.wait_for_selector("#sign-in:not([hidden])")
    page.fill("#sign-in-token", token)
    page.click("#sign-in-submit")
    page.wait_for_selector("html[data-signed-in='user'], html[data-signed-in='admin']")
    ready(page)


def user_tokens(served: Served, user: str) -> int:
    with quota_ledger(served.gateway) as ledger:
        flt = EventFilter(equals={"user_id": (user,)})
        return sum(event.total_tokens for event in ledger.events(flt))


# -- /test_token_usage.html --------------------------------------------------------------------


def test_the_simulation_page_moves_the_meter_as_the_api_says(
    watched: Watched, served: Served
) -> None:
    page = watched.new_page()
    page.goto(f"{served.url}/test_token_usage.html")
    assert page.input_value("#simulate-amount") == "1000"
    assert page.text_content("#simulate-button") == "Simulate Token Usage"
    assert page.text_content("#refresh-button") == "Refresh Usage"
    # Refresh Usage first: the meter and the statistics show alice's usage as the API has it.
    page.fill("#admin-token", ADMIN_TOKEN)
    page.fill("#simulate-user", "alice")
    page.click("#refresh-button")
    before = served.usage("alice")
    wait_for_meter(page, before)
    page.wait_for_selector("#raw-response:not(:empty)")
    assert json.loads(page.text_content("#raw-response") or "") == {"summary": before}
    # Simulate the default 1000 tokens: the meter follows without a reload.
    page.evaluate("window.__sameDocument = true")
    page.click("#simulate-button")
    page.wait_for_function(
        "() => document.getElementById('raw-response').textContent.includes('Simulated 1000')"
    )
    after = served.usage("alice")
    assert after["used"] == before["used"] + 1000
    wait_for_meter(page, after)
    raw = json.loads(page.text_content("#raw-response") or "")
    assert raw["ok"] is True and raw["tokensAdded"] == 1000 and raw["summary"] == after
    stats = page.eval_on_selector_all(
        "#usage-stats dd",
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.stat, n.textContent]))",
    )
    assert stats["used"] == f"{after['used']:,}" and stats["limit"] == f"{after['limit']:,}"
    assert stats["plan"] == "hobby" and stats["remaining"] == f"{after['remaining']:,}"
    # Past 80 %: the meter warns, its width capped at 100 % once over.
    page.fill("#simulate-amount", str(PLAN_TOKENS - after["used"] + 500))
    page.click("#simulate-button")
    page.wait_for_function("() => document.getElementById('usage-meter').dataset.state === 'over'")
    over = served.usage("alice")
    wait_for_meter(page, over)
    assert meter_shown(page)["width"] == "100%" and over["percent"] > 100
    assert page.evaluate("window.__sameDocument") is True
    for theme in ("light", "dark"):
        set_theme(page, theme)
        screenshot(page, f"gateway-test-page-desktop-{theme}")
    page.set_viewport_size(PHONE)
    screenshot(page, "gateway-test-page-phone-dark")
    set_theme(page, "light")
    screenshot(page, "gateway-test-page-phone-light")


def test_the_simulation_page_refuses_and_says_why(watched: Watched, served: Served) -> None:
    page = watched.new_page()
    watched.allowed_errors = ("status of 403", "status of 422", *UNSIGNED)
    page.goto(f"{served.url}/test_token_usage.html")
    page.fill("#admin-token", served.keys["bob"])  # a user's key is not the admin token
    page.fill("#simulate-user", "bob")
    used = served.usage("bob")["used"]
    page.click("#simulate-button")
    page.wait_for_selector("#simulate-error:not([hidden])")
    assert "403" in (page.text_content("#simulate-error") or "")
    assert "admin token" in (page.text_content("#simulate-error") or "")
    assert served.usage("bob")["used"] == used  # nothing recorded
    # No amount to simulate: the form says so and sends nothing.
    page.fill("#admin-token", ADMIN_TOKEN)
    posts = len([url for url in watched.requests if url.endswith("/simulate-tokens")])
    for amount, flaw in (("0", "rangeUnderflow"), ("2.5", "stepMismatch")):
        page.fill("#simulate-amount", amount)
        page.click("#simulate-button")
        flaws = page.eval_on_selector(
            "#simulate-amount",
            "i => ['rangeUnderflow', 'stepMismatch'].filter(name => i.validity[name])",
        )
        assert flaws == [flaw], amount
    assert len([url for url in watched.requests if url.endswith("/simulate-tokens")]) == posts
    assert served.usage("bob")["used"] == used


# -- the dashboard on the gateway -------------------------------------------------------------


def test_a_user_signs_in_and_the_meter_follows_a_real_request_live(
    watched: Watched, served: Served
) -> None:
    page = watched.new_page()
    page.goto(served.url + "/")
    page.wait_for_selector("html[data-signed-in='false']", state="attached")
    assert page.is_visible("#sign-in") and page.locator("#graph-2d .day").count() == 0
    assert page.is_hidden("#usage-meter")
    screenshot(page, "gateway-sign-in-desktop-light")
    page.set_viewport_size(PHONE)
    set_theme(page, "dark")
    screenshot(page, "gateway-sign-in-phone-dark")
    page.set_viewport_size(DESKTOP)
    set_theme(page, "light")
    sign_in(page, served.keys["bob"])
    assert page.text_content("#signed-in-as") == "Signed in as bob"
    assert page.is_hidden("#admin-panel") and page.is_hidden("#sign-in")
    # Bob's graph holds bob's events only.
    reply = chat(served.http, served.keys["bob"], "dashboard-first")
    assert reply.status_code == 200, reply.text
    page.reload()  # signed in still (this tab's sessionStorage)
    ready(page)
    assert page.evaluate("window.llmledger.page.graph.summary.totalTokens") == user_tokens(
        served, "bob"
    )
    wait_for_meter(page, served.usage("bob"))
    for theme in ("light", "dark"):
        set_theme(page, theme)
        screenshot(page, f"gateway-user-desktop-{theme}", full_page=False)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(400)  # the graph scrolls to its latest weeks after a resize
    screenshot(page, "gateway-user-phone-dark", full_page=False)
    page.set_viewport_size(DESKTOP)
    set_theme(page, "light")
    # A real metered request through the gateway: the meter moves without a reload.
    page.evaluate("window.__sameDocument = true")
    before = served.usage("bob")
    reply = served.http.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {served.keys['bob']}"},
    )
    assert reply.status_code == 200, reply.text
    after = served.usage("bob")
    assert after["used"] == before["used"] + REQUEST_TOKENS
    wait_for_meter(page, after)
    assert page.evaluate("window.__sameDocument") is True
    # Signing out forgets the key: back to the sign-in form, no data left on the page.
    page.click("#sign-out")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('llmledger-token')") is None


def test_the_data_needs_credentials_and_shows_only_the_callers(served: Served) -> None:
    graph = "/api/dashboard/graph?tz=UTC"
    assert served.http.get(graph).status_code == 401  # no loopback exception
    alice = {"authorization": f"Bearer {served.keys['alice']}"}
    mine = served.http.get(graph, headers=alice).json()
    assert mine["summary"]["totalTokens"] == user_tokens(served, "alice")
    whole = served.http.get(graph, headers=ADMIN).json()
    assert whole["summary"]["totalTokens"] > mine["summary"]["totalTokens"]


def test_the_admin_sees_every_meter_and_the_upstream_accounts(
    watched: Watched, served: Served
) -> None:
    # A 429 from account oai/a for this model: the gateway fails over to oai/b.
    reply = served.http.post(
        "/v1/chat/completions",
        json={"model": "limited-1", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {served.keys['carol']}"},
    )
    assert reply.status_code == 200, reply.text
    page = watched.new_page()
    page.goto(served.url + "/")
    sign_in(page, ADMIN_TOKEN)
    assert page.text_content("#signed-in-as") == "Admin: every user"
    assert page.is_visible("#admin-panel")
    page.wait_for_selector("#meters-table tbody tr td[data-key='subject']")
    page.wait_for_selector("#upstreams-table tbody tr td[data-key='account']")
    # Every meter, as /api/admin/meters has them (fullest first).
    api = served.http.get("/api/admin/meters?sort=percent&order=desc&limit=1000", headers=ADMIN)
    meters = api.json()["meters"]
    rows = page.eval_on_selector_all(
        "#meters-table tbody tr",
        """rows => rows.map(r => ({
            subject: r.querySelector('[data-key=subject]').textContent,
            percent: r.querySelector('[data-key=percent]').textContent,
            width: r.querySelector('.usage-meter-fill').style.width}))""",
    )
    assert [row["subject"] for row in rows] == [m["subject"] for m in meters]
    assert {"user:alice", "user:bob"} <= {row["subject"] for row in rows}
    for row, meter in zip(rows, meters):
        assert row["width"] == js_number(min(float(meter["percent"]), 100.0)) + "%"
        assert row["percent"] == percent_text(float(meter["percent"])).removesuffix(" used")
    # Each upstream account: requests today against its cap, its errors.
    accounts = page.eval_on_selector_all(
        "#upstreams-table tbody tr",
        """rows => rows.map(r => Object.fromEntries([...r.cells].map(
            c => [c.dataset.key, c.textContent])))""",
    )
    by_name = {row["account"]: row for row in accounts}
    assert set(by_name) == {"oai/a", "oai/b", "claude/main"}
    health = served.http.get("/api/dashboard/admin/upstreams", headers=ADMIN).json()
    truth = {row["account"]: row for row in health["accounts"]}
    assert truth["oai/a"]["errors"] >= 1 and truth["oai/a"]["lastFailure"] == "429"
    assert by_name["oai/a"]["errors"] == str(truth["oai/a"]["errors"])
    assert by_name["oai/a"]["lastFailure"] == "429"
    assert by_name["oai/b"]["requestsToday"].endswith(f"{truth['oai/b']['requestsToday']} / {CAP}")
    assert by_name["oai/a"]["requestsToday"].endswith("(no cap)")
    metrics = served.http.get("/metrics").text
    assert (
        f'llmledger_gateway_account_requests_today{{account="oai/b"}} '
        f"{truth['oai/b']['requestsToday']}" in metrics
    )
    # Exports: exactly the rows shown.
    with page.expect_download() as download:
        page.click("[data-export='meters'] button[data-format='csv']")
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [row["subject"] for row in table] == [m["subject"] for m in meters]
    assert [int(row["used"]) for row in table] == [m["used"] for m in meters]
    with page.expect_download() as download:
        page.click("[data-export='upstreams'] button[data-format='json']")
    exported = json.loads(Path(download.value.path()).read_text())
    assert [row["account"] for row in exported] == [row["account"] for row in health["accounts"]]
    assert [row["requestsToday"] for row in exported] == [
        row["requestsToday"] for row in health["accounts"]
    ]
    page.locator("#admin-panel").scroll_into_view_if_needed()
    for theme in ("light", "dark"):
        set_theme(page, theme)
        screenshot(page, f"gateway-admin-desktop-{theme}")
        path = SCREENSHOTS / f"gateway-operators-desktop-{theme}.png"
        page.locator("#admin-panel").screenshot(path=str(path), animations="disabled")
    page.set_viewport_size(PHONE)
    for theme in ("dark", "light"):
        set_theme(page, theme)
        screenshot(page, f"gateway-admin-phone-{theme}")


def test_a_user_is_refused_the_operators_views(served: Served) -> None:
    alice = {"authorization": f"Bearer {served.keys['alice']}"}
    for path in ("/api/dashboard/admin/upstreams", "/api/dashboard/admin/top?by=user"):
        reply = served.http.get(path, headers=alice)
        assert reply.status_code == 403 and reply.json()["error"]["code"] == "admin_required"
    assert served.http.get("/api/admin/meters", headers=alice).status_code == 403

"""The agents' limit windows on the dashboard: the ``limit-windows`` view's JSON for seeded
readings and usage (exact values: official windows, and an estimate for the agent with usage
only; the same computation as ``llmledger quota``), the gateway keeping it to the admin token,
the ``html`` report embedding it, and the panel in headless Chromium (the estimate labelled
and drawn apart; hidden with neither; screenshots light and dark)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from llmledger import Ledger
from llmledger.cli.main import main
from llmledger.config import Config
from llmledger.gateway import create_app
from llmledger.gateway.config import parse_gateway_config
from llmledger.rate_windows import RateWindow
from llmledger.report.timezones import resolve_zone
from llmledger.web import create_dashboard_app
from llmledger.web.views import limit_windows_json
from tests.web.browser import (
    DESKTOP,
    SCREENSHOTS,
    DashboardProcess,
    Watched,
    launch_browser,
    ready,
    set_theme,
)
from tests.web.test_views import ADMIN_TOKEN, GATEWAY, NoUpstream, _gateway_ledger, run

if TYPE_CHECKING:
    from playwright.sync_api import Browser

MINUTE = 60_000_000
HOUR = 60 * MINUTE


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us // 1_000_000, timezone.utc).isoformat().replace("+00:00", "Z")


def _local(us: int, zone: str) -> str:
    moment = datetime.fromtimestamp(us // 1_000_000, timezone.utc)
    return moment.astimezone(resolve_zone(zone)).isoformat()


def seed_windows(ledger: Ledger, t: int) -> None:
    """Readings around ``t`` (UTC microseconds, a whole minute): Codex's 5-hour window at
    10 % then 30 % an hour apart, its weekly one read once at 40 %, Claude Code's 5-hour window
    at 50 % then 65 % half an hour apart."""
    ledger.record_rate_windows(
        [
            RateWindow("codex", "primary", t - 2 * HOUR, 10.0, 300, t + 2 * HOUR, "codex", "plus"),
            RateWindow("codex", "primary", t - HOUR, 30.0, 300, t + 2 * HOUR, "codex", "plus"),
            RateWindow("codex", "secondary", t - HOUR, 40.0, 10080, t + 59 * HOUR, "codex", "plus"),
            RateWindow("claude-code", "five_hour", t - 40 * MINUTE, 50.0, 300, t + 3 * HOUR),
            RateWindow("claude-code", "five_hour", t - 10 * MINUTE, 65.0, 300, t + 3 * HOUR),
        ]
    )


def seed_usage(ledger: Ledger, t: int) -> None:
    """Usage around ``t``: Gemini CLI (no official figure) had a 200,000-token block 30 hours
    before and is 50,000 tokens into its current one (one call, half an hour before ``t``: no
    burn rate, so the projection is what it used); Codex (official readings) has a call too,
    and gets no estimate."""
    moment = datetime.fromtimestamp(t // 1_000_000, timezone.utc)
    for hours, tokens in ((30, 100_000), (29.5, 100_000), (0.5, 50_000)):
        ledger.record(model="gemini-2.5-pro", ts=moment - timedelta(hours=hours),
                      source="gemini-cli", input_tokens=tokens, output_tokens=0)  # fmt: skip
    ledger.record(model="gpt-5", ts=moment - timedelta(minutes=20), source="codex",
                  input_tokens=10, output_tokens=5)  # fmt: skip


def expected_estimates(t: int, zone: str) -> list[dict[str, Any]]:
    """What the view answers for ``seed_usage(t)`` in ``zone``, worked out by hand."""
    start = (t - 30 * MINUTE) // HOUR * HOUR  # the block starts at its first call's hour
    return [
        {
            "source": "gemini-cli",
            "title": "Gemini CLI",
            "official": False,
            "kind": "estimate",
            "estimate": True,
            "label": "5-hour block",
            "blockStart": _iso(start),
            "blockEnd": _iso(start + 5 * HOUR),
            "blockEndLocal": _local(start + 5 * HOUR, zone),
            "tokens": 50_000,
            "costUSD": 0.0625,  # 50,000 input tokens at $1.25 a million
            "largestBlockTokens": 200_000,
            "percentOfLargest": 25.0,
            "projectedPercentOfLargest": 25.0,
        }
    ]


def expected_windows(t: int, zone: str) -> list[dict[str, Any]]:
    """What the view answers for ``seed_windows(t)`` in ``zone``, worked out by hand."""

    def window(source: str, **fields: Any) -> dict[str, Any]:
        return {"source": source, "official": True, "stale": False, **fields}

    return [
        window(
            "claude-code",
            title="Claude Code",
            limitId=None,
            window="five_hour",
            label="5-hour",
            windowMinutes=300,
            usedPercent=65.0,
            resetsAt=_iso(t + 3 * HOUR),
            resetsAtLocal=_local(t + 3 * HOUR, zone),
            observedAt=_iso(t - 10 * MINUTE),
            plan=None,
            # 50 % -> 65 % in 30 minutes: 30 points an hour, the 35 left take 70 minutes.
            forecast={
                "estimate": True,
                "percentPerHour": 30.0,
                "reaches100At": _iso(t + HOUR),
                "reaches100AtLocal": _local(t + HOUR, zone),
                "percentAtReset": 160.0,
            },
        ),
        window(
            "codex",
            title="Codex CLI",
            limitId="codex",
            window="primary",
            label="5-hour",
            windowMinutes=300,
            usedPercent=30.0,
            resetsAt=_iso(t + 2 * HOUR),
            resetsAtLocal=_local(t + 2 * HOUR, zone),
            observedAt=_iso(t - HOUR),
            plan="plus",
            # 20 points an hour: 100 % in 3.5 hours, after the reset in 3; 90 % by then.
            forecast={
                "estimate": True,
                "percentPerHour": 20.0,
                "reaches100At": None,
                "reaches100AtLocal": None,
                "percentAtReset": 90.0,
            },
        ),
        window(
            "codex",
            title="Codex CLI",
            limitId="codex",
            window="secondary",
            label="weekly",
            windowMinutes=10080,
            usedPercent=40.0,
            resetsAt=_iso(t + 59 * HOUR),
            resetsAtLocal=_local(t + 59 * HOUR, zone),
            observedAt=_iso(t - HOUR),
            plan="plus",
            # One reading, 108 hours into the week: 40/108 points an hour; 60 hours to go.
            forecast={
                "estimate": True,
                "percentPerHour": 0.37,
                "reaches100At": None,
                "reaches100AtLocal": None,
                "percentAtReset": 62.22,
            },
        ),
    ]


def _minute_now() -> int:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return int(now.timestamp()) * 1_000_000


# -- in the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_browser()


def _dashboard(db: Path, workdir: Path) -> DashboardProcess:
    return DashboardProcess(db, workdir, "--no-scan", "--tz", "Europe/Berlin").start()


def _panel_rows(page: Any) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        "#limits-table tbody tr",
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))",
    )
    return rows


def test_the_view_for_seeded_readings(tmp_path: Path) -> None:
    t = int(datetime(2026, 12, 7, 12, tzinfo=timezone.utc).timestamp()) * 1_000_000
    with Ledger(tmp_path / "ledger.db") as ledger:
        seed_windows(ledger, t)
        seed_usage(ledger, t)
        body = json.loads(limit_windows_json(ledger, resolve_zone("Europe/Berlin"), t))
    assert body == {
        "windows": expected_windows(t, "Europe/Berlin"),
        "estimates": expected_estimates(t, "Europe/Berlin"),
        "timezone": "Europe/Berlin",
        "now": "2026-12-07T12:00:00Z",
    }
    berlin = body["windows"][0]
    assert berlin["resetsAtLocal"] == "2026-12-07T16:00:00+01:00"
    assert berlin["forecast"]["reaches100AtLocal"] == "2026-12-07T14:00:00+01:00"
    assert body["estimates"][0]["blockEndLocal"] == "2026-12-07T17:00:00+01:00"
    # After the reset the window has restarted: stale, and no forecast.
    with Ledger(tmp_path / "ledger.db") as ledger:
        later = json.loads(limit_windows_json(ledger, resolve_zone("UTC"), t + 4 * HOUR))
    assert [(w["source"], w["window"], w["stale"]) for w in later["windows"]] == [
        ("claude-code", "five_hour", True),
        ("codex", "primary", True),
        ("codex", "secondary", False),
    ]
    assert later["windows"][0]["forecast"]["reaches100At"] is None
    # Gemini CLI's block has ended (16:00 UTC): no current block, no estimate.
    assert later["estimates"] == []
    # Readings older than the quota command's 8 days are not shown.
    with Ledger(tmp_path / "ledger.db") as ledger:
        old = json.loads(limit_windows_json(ledger, resolve_zone("UTC"), t + 9 * 24 * HOUR))
    assert old["windows"] == [] and old["estimates"] == []


def test_an_agent_with_usage_but_an_old_reading_is_not_estimated(tmp_path: Path) -> None:
    """A reading of the last 8 days makes the agent official (its windows are shown), even
    after their reset; one older than that does not, and the agent's block is estimated."""
    t = int(datetime(2026, 12, 7, 12, tzinfo=timezone.utc).timestamp()) * 1_000_000
    with Ledger(tmp_path / "ledger.db") as ledger:
        ledger.record_rate_windows(
            [RateWindow("gemini-cli", "five_hour", t - 9 * 24 * HOUR, 5.0, 300, t - 8 * 24 * HOUR)]
        )
        seed_usage(ledger, t)
        body = json.loads(limit_windows_json(ledger, resolve_zone("UTC"), t))
        assert body["windows"] == []
        assert [e["source"] for e in body["estimates"]] == ["codex", "gemini-cli"]
        ledger.record_rate_windows(
            [RateWindow("gemini-cli", "five_hour", t - 6 * HOUR, 5.0, 300, t - HOUR)]
        )
        body = json.loads(limit_windows_json(ledger, resolve_zone("UTC"), t))
    assert [(w["source"], w["stale"]) for w in body["windows"]] == [("gemini-cli", True)]
    assert [e["source"] for e in body["estimates"]] == ["codex"]


def test_the_endpoint_answers_as_quota_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = _minute_now()
    db = tmp_path / "ledger.db"
    with Ledger(db) as ledger:
        seed_windows(ledger, t)
        seed_usage(ledger, t)
    ledger = Ledger(db, readonly=True)
    app = create_dashboard_app(ledger, zone=resolve_zone("UTC"))
    answers: dict[str, Any] = {}

    async def scenario(http: httpx2.AsyncClient) -> None:
        answer = await http.get("/api/dashboard/limit-windows?tz=Asia/Tokyo")
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        answers["tokyo"] = answer.json()
        bad = await http.get("/api/dashboard/limit-windows?tz=Mars/Base")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_query"

    try:
        run(app, scenario)
    finally:
        ledger.close()
    body = answers["tokyo"]
    assert body["windows"] == expected_windows(t, "Asia/Tokyo")
    assert body["estimates"] == expected_estimates(t, "Asia/Tokyo")
    assert body["timezone"] == "Asia/Tokyo"
    # The same windows and estimates as `llmledger quota --json` (one computation each).
    capsys.readouterr()
    assert main(["quota", "--json", "--no-scan", "--db", str(db)]) == 0
    answer = json.loads(capsys.readouterr().out)
    quota = answer["windows"]
    local = ("title", "resetsAtLocal", "blockEndLocal")
    assert [{k: v for k, v in e.items() if k not in local} for e in body["estimates"]] == answer[
        "estimates"
    ]
    shown = [{k: v for k, v in w.items() if k not in local} for w in body["windows"]]
    for window in shown:
        window["forecast"] = {
            k: v for k, v in window["forecast"].items() if k != "reaches100AtLocal"
        }
    assert shown == quota


def test_on_the_gateway_only_the_admin_sees_them(tmp_path: Path) -> None:
    ledger, alice_key = _gateway_ledger(tmp_path)
    seed_windows(ledger, _minute_now())
    raw = {**GATEWAY, "server": {"admin_token_env": "ADMIN"}}
    config = parse_gateway_config(raw, {"K": "sk-upstream", "ADMIN": ADMIN_TOKEN})
    app = create_app(config, ledger, transport=NoUpstream())
    url = "/api/dashboard/limit-windows?tz=UTC"

    async def scenario(http: httpx2.AsyncClient) -> None:
        assert (await http.get(url)).status_code == 401
        denied = await http.get(url, headers={"authorization": f"Bearer {alice_key}"})
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "admin_required"
        admin = await http.get(url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
        assert admin.status_code == 200
        assert [w["window"] for w in admin.json()["windows"]] == [
            "five_hour",
            "primary",
            "secondary",
        ]

    try:
        run(app, scenario, client=("203.0.113.7", 40000))
    finally:
        ledger.close()


def test_the_html_report_holds_them(browser: Browser, tmp_path: Path) -> None:
    t = _minute_now()
    db = tmp_path / "ledger.db"
    with Ledger(db, config=Config()) as ledger:
        seed_windows(ledger, t)
        seed_usage(ledger, t)
    target = tmp_path / "report.html"
    assert main(["html", str(target), "--tz", "UTC", "--no-scan", "--db", str(db)]) == 0
    html = target.read_text(encoding="utf-8")
    data = json.loads(html.split('id="llmledger-data">')[1].split("</script>")[0])
    embedded = data["views"]["limit-windows?tz=UTC"]
    assert embedded["windows"] == expected_windows(t, "UTC")
    assert embedded["estimates"] == expected_estimates(t, "UTC")
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
    watch = Watched(context)
    try:
        page = watch.new_page()
        page.goto(target.as_uri())
        ready(page)
        page.wait_for_selector("#limits-panel:not([hidden]) #limits-table tbody tr")
        assert [row[:3] for row in _panel_rows(page)] == [
            ["Claude Code", "5-hour", "65%"],
            ["Codex CLI (codex)", "5-hour", "30%"],
            ["Codex CLI (codex)", "weekly", "40%"],
            ["Gemini CLI", "5-hour block estimate", "25%"],
        ]
        watch.assert_clean()
    finally:
        context.close()


def test_the_panel_shows_the_windows(browser: Browser, tmp_path: Path) -> None:
    t = _minute_now()
    db = tmp_path / "ledger.db"
    with Ledger(db) as ledger:
        seed_windows(ledger, t)
        seed_usage(ledger, t)
    process = _dashboard(db, tmp_path / "run")
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    watch = Watched(context)
    try:
        page = watch.new_page()
        page.goto(process.root)
        ready(page)
        page.wait_for_selector("#limits-panel:not([hidden]) #limits-table tbody tr")
        berlin = resolve_zone("Europe/Berlin")

        def local(us: int) -> str:
            moment = datetime.fromtimestamp(us // 1_000_000, timezone.utc).astimezone(berlin)
            return f"{moment:%a} {moment.day} {moment:%b %H:%M}"

        rows = _panel_rows(page)
        assert [row[:4] for row in rows] == [
            ["Claude Code", "5-hour", "65%", "5 h"],
            ["Codex CLI (codex)", "5-hour", "30%", "5 h"],
            ["Codex CLI (codex)", "weekly", "40%", "7 d"],
            ["Gemini CLI", "5-hour block estimate", "25%", "5 h"],
        ]
        block_end = (t - 30 * MINUTE) // HOUR * HOUR + 5 * HOUR
        assert [row[4].split(" (in ")[0] for row in rows] == [
            local(t + 3 * HOUR),
            local(t + 2 * HOUR),
            local(t + 59 * HOUR),
            local(block_end),
        ]
        assert [row[5] for row in rows] == [
            f"100% at {local(t + HOUR)}",
            "~90% at reset",
            "~62% at reset",
            "~25% of largest by block end",
        ]
        # The estimate is labelled (a badge) and drawn apart (its row's class, a hatched
        # meter); the official rows carry neither.
        badges = page.locator("#limits-table tbody tr .limits-estimate-badge")
        assert badges.all_text_contents() == ["estimate"]
        classes = page.eval_on_selector_all(
            "#limits-table tbody tr",
            "rows => rows.map(r => r.classList.contains('limits-estimate'))",
        )
        assert classes == [False, False, False, True]
        hatched = page.eval_on_selector(
            "#limits-table tr.limits-estimate .usage-meter-fill",
            "fill => getComputedStyle(fill).backgroundImage",
        )
        assert "repeating-linear-gradient" in hatched
        headers = page.locator("#limits-table thead th").all_text_contents()
        assert headers[-1] == "Forecast (estimate)"
        note = page.locator("#limits-note").text_content() or ""
        assert "Official" in note and "estimate" in note and "Europe/Berlin" in note
        assert "no official figure" in note
        SCREENSHOTS.mkdir(exist_ok=True)
        panel = page.locator("#limits-panel")
        for theme in ("light", "dark"):
            set_theme(page, theme)
            panel.screenshot(path=str(SCREENSHOTS / f"limit-windows-{theme}.png"))
        watch.assert_clean()
    finally:
        context.close()
        assert process.stop() == 0


def test_the_panel_is_hidden_without_readings(browser: Browser, tmp_path: Path) -> None:
    """No reading, and no agent active in the last 5 hours (so no estimate either)."""
    db = tmp_path / "ledger.db"
    with Ledger(db) as ledger:
        ledger.record(model="gpt-5", input_tokens=10, output_tokens=5, source="codex",
                      ts=datetime.now(timezone.utc) - timedelta(hours=6))  # fmt: skip
    process = _dashboard(db, tmp_path / "run")
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    watch = Watched(context)
    try:
        page = watch.new_page()
        with page.expect_response(lambda r: "/limit-windows" in r.url) as answered:
            page.goto(process.root)
        assert answered.value.json()["windows"] == []
        assert answered.value.json()["estimates"] == []
        ready(page)
        assert page.locator("#limits-panel").is_hidden()
        assert _panel_rows(page) == []
        watch.assert_clean()
    finally:
        context.close()
        assert process.stop() == 0

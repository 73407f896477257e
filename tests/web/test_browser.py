"""The dashboard in headless Chromium against a real ``llmledger dashboard`` process on the
seeded ledger: one cell per day with the right level, a day's breakdown, the 3D view, charts
and tables, the theme across reloads, the keyboard; no console error and no request leaving
127.0.0.1 anywhere. Screenshots of each view land in tests/web/screenshots/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.web.browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    DashboardProcess,
    Watched,
    launch_browser,
    ready,
    screenshot,
)
from tests.web.conftest import CliResult
from tests.web.seed import EARLIER_YEAR, UNPRICED_MODEL, YEAR
from tests.web.test_graph import expected_levels

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_browser()


@pytest.fixture(scope="module")
def dashboard(seeded_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = DashboardProcess(
        seeded_path, tmp_path_factory.mktemp("dashboard"), "--no-scan", "--tz", "UTC", "--admin"
    ).start()
    try:
        assert process.url.startswith("http://127.0.0.1:")
        yield process.root
    finally:
        assert process.stop() == 0


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    watch = Watched(context)
    yield watch
    context.close()


@pytest.fixture
def page(watched: Watched, dashboard: str) -> Iterator[Page]:
    page = watched.new_page()
    page.goto(f"{dashboard}?year={YEAR}")
    ready(page)
    yield page
    watched.assert_clean()


def daily(cli: Cli, seeded_path: Path, *argv: str) -> Any:
    result = cli("daily", "--json", "--tz", "UTC", "--no-scan", "--db", str(seeded_path), *argv)
    assert result.code == 0, result.err
    return result.json()


def cells(page: Page, selector: str = ".graph-2d .day[data-date]") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.eval_on_selector_all(
        selector,
        """nodes => nodes.map(n => ({date: n.dataset.date, level: Number(n.dataset.level),
            cost: Number(n.dataset.cost || 0), tokens: Number(n.dataset.tokens || 0),
            height: Number(n.dataset.height || 0)}))""",
    )
    return found


def days_of(year: int) -> list[str]:
    first = date(year, 1, 1)
    return [
        (first + timedelta(days=n)).isoformat() for n in range((date(year + 1, 1, 1) - first).days)
    ]


def test_a_cell_per_day_with_its_level(page: Page, cli: Cli, seeded_path: Path) -> None:
    rows = {r["date"]: r for r in daily(cli, seeded_path, "--year", str(YEAR))["daily"]}
    shown = cells(page)
    assert [c["date"] for c in shown] == days_of(YEAR)  # 365 cells, one per day, in order
    costs = [rows[c["date"]]["totalCost"] if c["date"] in rows else 0 for c in shown]
    tokens = [rows[c["date"]]["totalTokens"] if c["date"] in rows else 0 for c in shown]
    assert [c["cost"] for c in shown] == costs
    assert [c["tokens"] for c in shown] == tokens
    assert [c["level"] for c in shown] == expected_levels(costs)
    assert page.locator(".graph-2d text.graph-label").all_text_contents()[:3] == [
        "Jan",
        "Feb",
        "Mar",
    ]
    page.check("input[name=metric][value=tokens]", force=True)
    assert [c["level"] for c in cells(page)] == expected_levels(tokens)
    stats = {
        name: page.locator(f"[data-stat='{name}'] dd").get_attribute("data-value")
        for name in ("Total cost", "Total tokens", "Active days")
    }
    totals = daily(cli, seeded_path, "--year", str(YEAR))["totals"]
    assert stats == {
        "Total cost": str(totals["totalCost"]),
        "Total tokens": str(totals["totalTokens"]),
        "Active days": str(len(rows)),
    }


def test_years_and_sources_switch(page: Page, cli: Cli, seeded_path: Path) -> None:
    page.click("#year-prev")
    page.wait_for_function(
        f"() => document.querySelector('#year-label').textContent === '{EARLIER_YEAR}'"
    )
    ready(page)
    earlier = cells(page)
    assert len(earlier) == 366  # a leap year
    assert [c["date"] for c in earlier if c["tokens"]] == [
        r["date"] for r in daily(cli, seeded_path, "--year", str(EARLIER_YEAR))["daily"]
    ]
    assert page.is_disabled("#year-prev")
    page.click("#year-next")
    page.wait_for_function(f"() => document.querySelector('#year-label').textContent === '{YEAR}'")
    ready(page)
    page.select_option("#control-source", "codex")
    page.wait_for_function("() => location.search.includes('source=codex')")
    ready(page)
    rows = {r["date"]: r for r in daily(cli, seeded_path, "--year", str(YEAR), "--codex")["daily"]}
    shown = cells(page)
    costs = [rows[c["date"]]["totalCost"] if c["date"] in rows else 0 for c in shown]
    assert [c["level"] for c in shown] == expected_levels(costs)
    legend = page.locator("#daily-legend li").evaluate_all(
        "items => items.map(i => i.dataset.series)"
    )
    assert set(legend) == {"gpt-5", "gpt-5-mini"}


def test_a_day_click_shows_its_breakdown(page: Page, cli: Cli, seeded_path: Path) -> None:
    rows = daily(cli, seeded_path, "--year", str(YEAR), "--group-by", "source")["daily"]
    busiest = max(
        {r["date"] for r in rows},
        key=lambda d: sum(r["totalCost"] for r in rows if r["date"] == d),
    )
    page.click(f".graph-2d .day[data-date='{busiest}']")
    section = page.locator("#day-breakdown")
    assert section.is_visible()
    assert page.text_content("#day-title") == date.fromisoformat(busiest).strftime("%A, %B %-d, %Y")
    groups = page.locator("#day-table tr.group").evaluate_all(
        """rows => rows.map(r => [r.querySelector("[data-key=name]").dataset.value,
            Number(r.querySelector("[data-key=tokens]").dataset.value),
            Number(r.querySelector("[data-key=messages]").dataset.value)])"""
    )
    expected = sorted(
        ([r["source"], r["totalTokens"], r["requests"]] for r in rows if r["date"] == busiest),
        key=lambda g: str(g[0]),
    )
    assert sorted(groups, key=lambda g: str(g[0])) == expected
    models = page.locator("#day-table tr.sub [data-key=name]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)"
    )
    day_models = {m for r in rows if r["date"] == busiest for m in r["modelsUsed"]}
    assert sorted(models) == sorted(
        m["modelName"] for r in rows if r["date"] == busiest for m in r["modelBreakdowns"]
    )
    assert set(models) == day_models
    assert page.locator(".graph-2d .day.selected").get_attribute("data-date") == busiest
    screenshot(page, "day-breakdown-light")
    page.click("#day-close")
    assert section.is_hidden()


def test_the_3d_view(page: Page, cli: Cli, seeded_path: Path) -> None:
    page.check("input[name=view][value='3d']", force=True)
    assert page.locator("#graph-3d").is_visible() and page.locator("#graph-2d").is_hidden()
    bars = cells(page, ".graph-3d .bar[data-date]")
    assert sorted(b["date"] for b in bars) == days_of(YEAR)
    rows = daily(cli, seeded_path, "--year", str(YEAR))["daily"]
    busiest = max(rows, key=lambda r: r["totalCost"])["date"]
    tallest = max(bars, key=lambda b: b["height"])
    assert (tallest["date"], tallest["height"]) == (busiest, 70.0)
    assert {b["date"] for b in bars if b["height"] > 0} == {
        r["date"] for r in rows if r["totalCost"]
    }
    box = page.locator(f".graph-3d .bar[data-date='{busiest}'] .top").bounding_box()
    assert box is not None and box["width"] > 5 and box["height"] > 2
    screenshot(page, "graph-3d-light", full_page=False)
    page.click(f".graph-3d .bar[data-date='{busiest}'] .top", force=True)
    assert page.text_content("#day-title") == date.fromisoformat(busiest).strftime("%A, %B %-d, %Y")
    page.reload()
    ready(page)
    assert page.locator("#graph-3d").is_visible()  # the view is remembered
    page.check("input[name=view][value='2d']", force=True)


def test_keyboard_reaches_the_graph_and_opens_a_day(page: Page) -> None:
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        active = page.evaluate(
            "() => { const a = document.activeElement;"
            " return a.dataset && a.dataset.date ? 'cell:' + a.dataset.date"
            " : (a.id || a.name || a.tagName) }"
        )
        reached.append(active)
        if active.startswith("cell:"):
            break
    assert reached[0] in ("A", "skip")  # the skip link first
    assert {"theme", "control-tz", "control-apply", "year-prev", "metric"} <= set(reached)
    cell = reached[-1]
    assert cell.startswith("cell:")
    start = date.fromisoformat(cell[5:])
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    moved = page.evaluate("document.activeElement.dataset.date")
    assert moved == (start + timedelta(days=8)).isoformat()
    page.keyboard.press("Enter")
    assert page.locator("#day-breakdown").get_attribute("data-date") == moved
    assert page.locator("#tooltip").is_visible()


def test_charts_tables_and_exports(page: Page, cli: Cli, seeded_path: Path) -> None:
    rows = daily(cli, seeded_path, "--year", str(YEAR))["daily"]
    first, last = date.fromisoformat(rows[0]["date"]), date.fromisoformat(rows[-1]["date"])
    bars = page.locator("#daily-chart .day-bar").evaluate_all(
        "bars => bars.map(b => [b.dataset.date, Number(b.dataset.total)])"
    )
    assert len(bars) == (last - first).days + 1
    totals = {r["date"]: r["totalTokens"] for r in rows}
    assert {d: t for d, t in bars if t} == totals
    page.check("input[name=stack][value=source]", force=True)
    legend = page.locator("#daily-legend li").evaluate_all(
        "items => items.map(i => i.dataset.series)"
    )
    assert set(legend) == {"claude-code", "codex", "gemini-cli", "proxy"}
    callout = page.text_content("#unpriced") or ""
    assert callout.startswith("1 model has no price: " + UNPRICED_MODEL)
    models = page.locator("#models-table tbody [data-key=model]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)"
    )
    assert len(models) == 6 and models[0] == "claude-opus-4-1"
    unpriced_cost = page.locator(
        f"#models-table tbody tr:has([data-value='{UNPRICED_MODEL}']) [data-key=cost]"
    )
    assert unpriced_cost.text_content() == "unknown"
    ratios = page.locator("#cache-chart circle[data-date]").evaluate_all(
        "points => points.map(p => [p.dataset.date, Number(p.dataset.ratio)])"
    )
    cache = daily(cli, seeded_path, "--year", str(YEAR))["daily"]
    for (day, ratio), row in zip(ratios, cache):
        prompt = row["inputTokens"] + row["cacheReadTokens"] + row["cacheCreationTokens"]
        assert day == row["date"] and ratio == pytest.approx(
            row["cacheReadTokens"] / prompt, abs=1e-6
        )
    page.locator("#sessions-panel").scroll_into_view_if_needed()  # loads when seen
    page.wait_for_selector("#sessions-table tbody tr [data-key=sessionId]")
    assert page.locator("#sessions-table tbody tr").count() == 25
    december = cli(
        "sessions",
        "--json",
        "--since",
        f"{YEAR}-12-01",
        "--until",
        f"{YEAR}-12-31",
        "--tz",
        "UTC",
        "--no-scan",
        "--db",
        str(seeded_path),
        "--order",
        "desc",
    ).json()["sessions"]
    shown = page.locator("#sessions-table tbody [data-key=sessionId]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)"
    )
    assert shown == [row["sessionId"] for row in december[:25]]
    assert page.text_content("#sessions-note") == (
        f"The 25 most recent of {len(december)} sessions from Dec 1 to Dec 31, {YEAR}."
    )
    page.click("#sessions-more")
    assert page.locator("#sessions-table tbody tr").count() == 50
    with page.expect_download() as download:
        page.click("[data-export=models] button[data-format=csv]")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0] == "model,requests,tokens,cost,unpriced,share"
    assert len(text.splitlines()) == 7
    with page.expect_download() as download:
        page.click("[data-export=sessions] button[data-format=json]")
    assert download.value.suggested_filename == f"llmledger-sessions-{YEAR}.json"
    page.locator("#admin-panel").scroll_into_view_if_needed()
    for by in ("user", "api_key", "account", "org"):
        page.wait_for_selector(f"[data-top={by}] tbody [data-key=key]")
    users = page.locator("[data-top=user] tbody [data-key=key]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)"
    )
    assert sorted(users) == ["ada", "grace", "linus"]
    # Meters and upstream accounts are the gateway's (test_gateway_browser.py): not here.
    assert page.is_hidden("#admin-meters") and page.is_hidden("#admin-upstreams")


def test_the_theme_is_remembered_across_reloads(page: Page) -> None:
    assert page.get_attribute("html", "data-theme") == "light"  # system: light here
    page.check("input[name=theme][value=dark]", force=True)
    assert page.get_attribute("html", "data-theme") == "dark"
    page.reload()
    assert page.get_attribute("html", "data-theme") == "dark"  # before the scripts ran too
    ready(page)
    assert page.is_checked("input[name=theme][value=dark]")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 23)"
    page.emulate_media(color_scheme="dark")
    page.check("input[name=theme][value=system]", force=True)
    page.reload()
    assert page.get_attribute("html", "data-theme") == "dark"
    page.emulate_media(color_scheme="light")
    page.reload()
    assert page.get_attribute("html", "data-theme") == "light"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screens_fit_and_are_saved(browser: Browser, dashboard: str, theme: str) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme=theme)
    watch = Watched(context)
    page = watch.new_page()
    try:
        page.goto(f"{dashboard}?year={YEAR}")
        ready(page)
        for panel in ("#sessions-panel", "#admin-panel"):
            page.locator(panel).scroll_into_view_if_needed()
        page.wait_for_selector("#sessions-table tbody tr [data-key=sessionId]")
        page.wait_for_selector("[data-top=org] tbody [data-key=key]")
        page.evaluate("window.scrollTo(0, 0)")
        assert page.get_attribute("html", "data-theme") == theme
        screenshot(page, f"dashboard-{theme}-desktop")
        screenshot(page, f"top-{theme}-desktop", full_page=False)
        SCREENSHOTS.mkdir(exist_ok=True)
        panel = page.locator("#graph-panel")
        panel.screenshot(path=str(SCREENSHOTS / f"graph-panel-{theme}.png"))
        page.check("input[name=view][value='3d']", force=True)
        screenshot(page, f"graph-3d-{theme}", full_page=False)
        panel.screenshot(path=str(SCREENSHOTS / f"graph-panel-3d-{theme}.png"))
        page.check("input[name=view][value='2d']", force=True)
        page.set_viewport_size(PHONE)
        page.wait_for_function(
            "() => document.querySelector('#daily-chart svg').getAttribute('width') < 360"
        )
        # Nothing spills sideways on a phone (the graph and the tables scroll inside).
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, f"dashboard-{theme}-phone")
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"top-{theme}-phone", full_page=False)
        watch.assert_clean()
    finally:
        context.close()


def test_a_4k_screen(browser: Browser, dashboard: str) -> None:
    context = browser.new_context(viewport={"width": 3840, "height": 2160})
    page = context.new_page()
    try:
        page.goto(f"{dashboard}?year={YEAR}")
        ready(page)
        size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert size == 22  # the type grows with the screen, up to its limit
        cell = page.locator(".graph-2d .day").first.bounding_box()
        assert cell is not None and cell["width"] >= 14  # the graph grows too
        assert page.evaluate("document.documentElement.scrollWidth") <= 3840
    finally:
        context.close()

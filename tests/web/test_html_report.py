"""``llmledger html``: ONE file, assets inlined and data embedded, that opens from file:// in
Chromium with no server and no request, and shows the numbers of ``llmledger daily --json``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from llmledger.web.page import SCRIPTS, STYLES, asset
from tests.web.browser import DESKTOP, Watched, launch_browser, ready, screenshot
from tests.web.conftest import CliResult
from tests.web.seed import EARLIER_YEAR, YEAR
from tests.web.test_graph import expected_levels

if TYPE_CHECKING:
    from playwright.sync_api import Browser

Cli = Callable[..., CliResult]
SOURCES = ["claude-code", "codex", "gemini-cli", "proxy"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_browser()


@pytest.fixture(scope="module")
def report(seeded_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmledger.cli.main import main

    target = tmp_path_factory.mktemp("html") / "report.html"
    code = main(["html", str(target), "--tz", "UTC", "--no-scan", "--db", str(seeded_path)])
    assert code == 0
    return target


def embedded(html: str, element: str) -> Any:
    return json.loads(html.split(f'id="{element}">')[1].split("</script>")[0])


def test_the_file_holds_everything_it_shows(report: Path, cli: Cli, seeded_path: Path) -> None:
    html = report.read_text(encoding="utf-8")
    for name in STYLES:
        assert asset(name) in html
    for name in SCRIPTS:
        assert asset(name) in html
    assert "static/meter.js" not in html and 'src="' not in html
    assert 'rel="stylesheet"' not in html
    assert re.findall(r"""(?:href|src)=["']https?:""", html) == []
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None and "connect-src 'none'" in policy[1]
    config = embedded(html, "llmledger-config")
    assert (config["static"], config["years"], config["sources"]) == (
        True,
        [EARLIER_YEAR, YEAR],
        SOURCES,
    )
    views = embedded(html, "llmledger-data")["views"]
    graphs = {
        f"graph?{source}tz=UTC&year={year}"
        for year in (EARLIER_YEAR, YEAR)
        for source in ["", *(f"source={s}&" for s in SOURCES)]
    }
    assert graphs <= set(views)
    # Sessions: each graph's last 31 days with usage (within its year), asked without a year.
    sessions = set()
    for key in graphs:
        last = date.fromisoformat(views[key]["contributions"][-1]["date"])
        since = max(last - timedelta(days=30), date(last.year, 1, 1))
        source = key.split("source=")[1].split("&")[0] if "source=" in key else ""
        picked = f"&source={source}" if source else ""
        sessions.add(f"sessions?since={since}{picked}&tz=UTC&until={last}")
    # And the agents' limit windows (the seeded ledger has no reading: an empty list).
    limits = views["limit-windows?tz=UTC"]
    assert (limits["windows"], limits["timezone"]) == ([], "UTC")
    assert set(views) == graphs | sessions | {"limit-windows?tz=UTC"}
    rows = cli("daily", "--json", "--tz", "UTC", "--no-scan", "--db", str(seeded_path))
    days = {r["date"]: r for r in rows.json()["daily"]}
    shown = {
        d["date"]: d["totals"]
        for year in (EARLIER_YEAR, YEAR)
        for d in views[f"graph?tz=UTC&year={year}"]["contributions"]
    }
    assert shown == {
        date: {"tokens": r["totalTokens"], "cost": r["totalCost"], "messages": r["requests"]}
        for date, r in days.items()
    }


def test_a_value_cannot_close_its_script(tmp_path: Path, cli: Cli) -> None:
    db = tmp_path / "ledger.db"
    hostile = "</script><script>alert(1)</script>"
    recorded = cli("record", "--model", hostile, "--input", "5", "--output", "1", "--db", str(db))
    assert recorded.code == 0, recorded.err
    target = tmp_path / "r.html"
    assert cli("html", str(target), "--no-scan", "--db", str(db)).code == 0
    html = target.read_text()
    assert hostile not in html
    assert "\\u003c/script>\\u003cscript>alert(1)\\u003c/script>" in html


def test_opened_from_disk_it_shows_the_daily_reports_numbers(
    browser: Browser, report: Path, cli: Cli, seeded_path: Path
) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
    watch = Watched(context)
    page = watch.new_page()
    try:
        page.goto(report.as_uri())
        ready(page)
        assert page.text_content("#year-label") == str(YEAR)
        data = cli(
            "daily",
            "--json",
            "--year",
            str(YEAR),
            "--tz",
            "UTC",
            "--no-scan",
            "--db",
            str(seeded_path),
        )
        rows = {r["date"]: r for r in data.json()["daily"]}
        cells = page.eval_on_selector_all(
            ".graph-2d .day[data-date]",
            "nodes => nodes.map(n => [n.dataset.date, Number(n.dataset.cost),"
            " Number(n.dataset.tokens), Number(n.dataset.level)])",
        )
        assert len(cells) == 365
        shown = {date: (cost, tokens) for date, cost, tokens, _ in cells if tokens}
        assert shown == {d: (r["totalCost"], r["totalTokens"]) for d, r in rows.items()}
        costs = [rows[date]["totalCost"] if date in rows else 0 for date, *_ in cells]
        assert [level for *_, level in cells] == expected_levels(costs)
        totals = data.json()["totals"]
        cost = page.locator("[data-stat='Total cost'] dd")
        assert cost.get_attribute("data-value") == str(totals["totalCost"])
        assert (cost.text_content() or "").startswith(f"${totals['totalCost']:,.2f}")
        assert page.is_disabled("#control-tz") and page.is_disabled("#control-since")
        page.locator("#sessions-panel").scroll_into_view_if_needed()
        page.wait_for_selector("#sessions-table tbody tr [data-key=sessionId]")
        note = page.text_content("#sessions-note") or ""
        assert note.startswith("The 25 most recent of ") and note.endswith(
            " sessions from Dec 1 to Dec 31, 2025."
        )
        screenshot(page, "report-file-dark")
        page.select_option("#control-source", "gemini-cli")
        page.wait_for_function(
            "() => document.querySelector('#daily-legend li').dataset.series === 'gemini-2.5-pro'"
        )
        legend = page.locator("#daily-legend li").evaluate_all(
            "items => items.map(i => i.dataset.series)"
        )
        assert legend == ["gemini-2.5-pro"]
        page.click("#year-prev")
        page.wait_for_function(
            f"() => document.querySelector('#year-label').textContent === '{EARLIER_YEAR}'"
        )
        assert page.is_disabled("#year-prev")
        watch.assert_clean()
        assert [url for url in watch.requests if not url.startswith("file:")] == []
    finally:
        context.close()


def test_with_admin_the_file_holds_the_operators_lists(
    seeded_path: Path, tmp_path: Path, cli: Cli
) -> None:
    target = tmp_path / "admin.html"
    db = ("--no-scan", "--db", str(seeded_path))
    assert cli("html", str(target), "--admin", "--year", str(YEAR), "--tz", "UTC", *db).code == 0
    html = target.read_text(encoding="utf-8")
    assert embedded(html, "llmledger-config")["admin"] is True
    views = embedded(html, "llmledger-data")["views"]
    window = f"since={YEAR}-12-01&tz=UTC&until={YEAR}-12-31"
    top = views[f"admin/top?by=user&{window}"]
    assert sorted(row["key"] for row in top["rows"]) == ["ada", "grace", "linus"]
    tops = {key.split("by=")[1].split("&")[0] for key in views if key.startswith("admin/top?")}
    assert tops == {"user", "api_key", "account", "org"}
    # Per source too, each over its own last 31 days with usage.
    assert any(k.startswith("admin/top?by=org&since=") and "&source=codex&" in k for k in views)

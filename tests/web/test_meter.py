"""The usage meter (``/static/meter.js``, the original app's element ids) in Chromium against a
tiny fake of the usage API (``GET /api/account/usage`` and its SSE stream): its width, text,
colors and tooltip follow the API, live from the stream without a reload, on request without
one, embedded on another page, and hidden while the API answers 404."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from llmledger import Ledger, PriceBook
from llmledger.report.timezones import resolve_zone
from llmledger.web import dashboard_routes
from tests.web.browser import DESKTOP, Watched, launch_browser, ready

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

EMBED_PAGE = """<!doctype html><html><head><title>Another site</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/meter.css"></head><body>
<div id="usage-meter" hidden><span id="usage-meter-title">Usage</span>
<div id="usage-meter-track"><div id="usage-meter-fill"></div></div>
<span id="usage-meter-percent"></span></div>
<script src="/static/meter.js" defer></script></body></html>"""


@dataclass
class FakeUsageApi:
    """What the fake API answers; ``set`` changes the summary and pushes it on the stream."""

    usage_status: int = 200
    has_stream: bool = True
    summary: dict[str, Any] = field(
        default_factory=lambda: {
            "month": "2025-06",
            "used": 420,
            "limit": 1000,
            "remaining": 580,
            "percent": 42,
            "addOn": 0,
            "plan": "starter",
        }
    )
    version: int = 0
    hits: list[str] = field(default_factory=list)

    def set(self, used: int, limit: int = 1000, add_on: int = 0) -> None:
        percent = round(used * 100 / limit, 2)
        self.summary = {
            **self.summary,
            "used": used,
            "limit": limit,
            "remaining": max(0, limit - used),
            "percent": int(percent) if percent == int(percent) else percent,
            "addOn": add_on,
        }
        self.version += 1

    def app(self, ledger: Ledger) -> Starlette:
        async def usage(request: Request) -> Response:
            self.hits.append("usage")
            if self.usage_status != 200:
                return JSONResponse({"error": {"message": "no"}}, self.usage_status)
            return JSONResponse({"summary": self.summary})

        async def stream(request: Request) -> Response:
            self.hits.append("stream")
            if not self.has_stream:
                return JSONResponse({"error": {"message": "no such endpoint"}}, 404)

            async def events() -> AsyncIterator[str]:
                seen = -1
                while True:
                    if self.version != seen:
                        seen = self.version
                        yield f"event: usage\ndata: {json.dumps({'summary': self.summary})}\n\n"
                    await asyncio.sleep(0.05)

            return StreamingResponse(events(), media_type="text/event-stream")

        async def embed(request: Request) -> Response:
            return HTMLResponse(EMBED_PAGE)

        routes = [
            Route("/api/account/usage", usage),
            Route("/api/account/usage/stream", stream),
            Route("/embed.html", embed),
            *dashboard_routes(ledger, usage_meter=True, zone=resolve_zone("UTC")),
        ]
        return Starlette(routes=routes)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_browser()


@pytest.fixture
def api(seeded_path: Path) -> Iterator[tuple[FakeUsageApi, str]]:
    """The fake usage API beside the dashboard, served by uvicorn in a thread."""
    fake = FakeUsageApi()
    ledger = Ledger(seeded_path, prices=PriceBook(), env={}, readonly=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        fake.app(ledger), log_config=None, lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        ledger.close()


def meter(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(
        """() => {
        const box = document.getElementById('usage-meter');
        return {hidden: box.hidden, state: box.dataset.state || null,
          title: document.getElementById('usage-meter-title').textContent,
          text: document.getElementById('usage-meter-percent').textContent,
          width: document.getElementById('usage-meter-fill').style.width,
          tip: document.getElementById('usage-meter-track').title};
    }"""
    )
    return found


def wait_text(page: Page, text: str) -> None:
    page.wait_for_function(
        "text => document.getElementById('usage-meter-percent').textContent === text", arg=text
    )


def test_the_meter_follows_the_api_and_its_stream(
    browser: Browser, api: tuple[FakeUsageApi, str]
) -> None:
    fake, root = api
    watch = Watched(browser.new_context(viewport=DESKTOP))
    page = watch.new_page()
    try:
        page.goto(f"{root}/")
        ready(page)
        wait_text(page, "42% used")
        assert meter(page) == {
            "hidden": False,
            "state": "ok",
            "title": "Usage",
            "text": "42% used",
            "width": "42%",
            "tip": "420 / 1,000 tokens · plan starter",
        }
        page.wait_for_function("() => window.llmledgerMeter !== undefined")
        fake.set(used=850)  # over the stream: no reload, no new fetch
        wait_text(page, "85% used")
        assert meter(page)["state"] == "warn" and meter(page)["width"] == "85%"
        fake.set(used=1_337, add_on=0)
        wait_text(page, "133.7% used")
        assert meter(page) == {
            "hidden": False,
            "state": "over",
            "title": "Usage",
            "text": "133.7% used",
            "width": "100%",  # capped
            "tip": "1,337 / 1,000 tokens · plan starter",
        }
        fake.set(used=500, limit=2_000, add_on=1_000)
        wait_text(page, "25% used")
        assert meter(page)["tip"] == "500 / 2,000 tokens (including 1,000 add-on) · plan starter"
        assert fake.hits.count("usage") == 1 and fake.hits.count("stream") == 1
        watch.assert_clean()
    finally:
        watch.context.close()


def test_embedded_without_a_stream_it_refreshes_on_request(
    browser: Browser, api: tuple[FakeUsageApi, str]
) -> None:
    fake, root = api
    fake.has_stream = False
    watch = Watched(browser.new_context(viewport=DESKTOP), allowed_errors=("EventSource",))
    watch.allowed_errors += ("status of 404",)
    page = watch.new_page()
    try:
        page.goto(f"{root}/embed.html")
        wait_text(page, "42% used")
        page.wait_for_function("() => window.llmledgerMeter !== undefined")
        fake.set(used=910)
        page.evaluate("document.dispatchEvent(new Event('llmledger:usage-changed'))")
        wait_text(page, "91% used")
        assert meter(page)["state"] == "warn"
        assert fake.hits.count("usage") == 2
        watch.assert_clean()
    finally:
        watch.context.close()


@pytest.mark.parametrize(
    ("status", "asked", "said"), [(404, 1, "missing"), (401, 2, "unknown-caller")]
)
def test_hidden_while_the_usage_api_is_missing_or_does_not_know_the_caller(
    browser: Browser, api: tuple[FakeUsageApi, str], status: int, asked: int, said: str
) -> None:
    fake, root = api
    fake.usage_status = status
    allowed = (f"status of {status}",)
    watch = Watched(browser.new_context(viewport=DESKTOP), allowed_errors=allowed)
    page = watch.new_page()
    try:
        page.goto(f"{root}/")
        ready(page)
        page.wait_for_selector(f"#usage-meter[data-status='{said}']", state="attached")
        page.evaluate("document.dispatchEvent(new Event('llmledger:usage-changed'))")
        page.wait_for_timeout(300)
        assert meter(page)["hidden"] is True
        assert page.locator("#usage-meter").is_hidden()
        # 404: no usage API here, never asked again; 401: asked again (a caller may sign in).
        assert fake.hits == ["usage"] * asked
        watch.assert_clean()
    finally:
        watch.context.close()

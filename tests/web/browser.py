"""Driving the dashboard in Debian's headless Chromium with Playwright for Python (never a
downloaded browser), and ``llmledger dashboard`` as a real process on a loopback port.

A test module takes the ``browser`` fixture (one Chromium per module: Playwright's sync API
keeps an event loop running while it lives, which other modules' ``asyncio.run`` would trip
on). Without chromium or Playwright the tests skip, saying why; under CI=true they fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.test_project import in_ci

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
SCREENSHOTS = Path(__file__).parent / "screenshots"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
# Variables that point agents' logs somewhere else than HOME.
AGENT_HOMES = frozenset({"CLAUDE_CONFIG_DIR", "CODEX_HOME", "KIMI_SHARE_DIR", "COPILOT_HOME"})


def _missing(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message}; CI=true, so this fails instead of skipping")
    pytest.skip(message)


def launch_browser() -> Iterator[Browser]:
    """Chromium for one test module (skips, or fails under CI, when it cannot run)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A browser context whose every request is checked (anything but loopback and local
    files is recorded and aborted) and whose pages' console errors are collected."""

    context: BrowserContext
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allowed_errors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.context.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            self.outside.append(url)
            route.abort()
            return
        route.continue_()

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        return page

    def _console(self, message: Any) -> None:
        if message.type == "error" and not any(a in message.text for a in self.allowed_errors):
            self.errors.append(message.text)

    def assert_clean(self) -> None:
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside}"
        assert self.errors == [], f"console errors: {self.errors}"


def ready(page: Page, timeout: float = 15_000) -> None:
    """Wait until the dashboard drew its data (and is not loading anything new)."""
    page.wait_for_selector(
        "html[data-ready][data-loading='false']", state="attached", timeout=timeout
    )


def set_theme(page: Page, theme: str) -> None:
    """Choose a theme with the page's own switch (as a reader would)."""
    page.check(f"input[name='theme'][value='{theme}']", force=True)
    page.wait_for_selector(f"html[data-theme-choice='{theme}']", state="attached")


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


class DashboardProcess:
    """``llmledger dashboard`` as a real process on a free loopback port."""

    def __init__(self, db: Path, workdir: Path, *extra: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.argv = [
            sys.executable,
            "-m",
            "llmledger.cli.main",
            "dashboard",
            "--db",
            str(db),
            "--no-open",
            "--port",
            "0",
            *extra,
        ]
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("LLMLEDGER_", "XDG_")) and name not in AGENT_HOMES
        }
        self.env = {
            **inherited,
            "HOME": str(workdir / "home"),
            "LLMLEDGER_HOME": str(workdir / "data"),
            "TZ": "UTC",
        }
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.stderr: list[str] = []

    def start(self, timeout: float = 30.0) -> DashboardProcess:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        listening = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)
                if line.startswith("llmledger dashboard on "):
                    self.url = line.split()[3]
                    listening.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("the dashboard did not start:\n" + "".join(self.stderr))
        return self

    @property
    def root(self) -> str:
        """The server's address without the start page's query ("http://127.0.0.1:N/")."""
        return self.url.split("?")[0]

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

"""Benchmark the dashboard over a ledger of N events (default 1,000,000, a year of usage as
bench_ledger.py builds it): its JSON views' latency through a real ``llmledger dashboard``
process, the page's first paint and time to interactive in headless Chromium, and
``llmledger graph --output`` / ``llmledger html``.

    python benchmarks/bench_dashboard.py                   # 1,000,000 events
    python benchmarks/bench_dashboard.py --events 200000 --runs 3
    python benchmarks/bench_dashboard.py --db /tmp/bench.db  # reuse (or keep) a ledger

Targets (issue #18): the page's data endpoint <= 0.3 s, the page interactive <= 1 s.

The same views are also timed through a real ``llmledger serve`` on the same ledger, as a
signed-in browser asks them: with one user's ledger key (their events only, about 1 in 200 of
the ledger's) and with the admin token (the whole ledger).

Latency is the median (and the slowest) of ``--runs`` requests after one warm-up, measured by
a client on the same machine (connect + request + full body). "Interactive" is the page's own
mark ``llmledger-ready`` (the graph, stats, charts and tables drawn from the data) since the
navigation started, as Chromium's Performance API reports it; first paint likewise. Chromium
is Debian's (/usr/bin/chromium), driven by Playwright; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ledger import make_events

from llmledger import Ledger, PriceBook

ZONE = "Europe/Berlin"
YEAR = 2025
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
RECENT = f"since={YEAR}-12-01&tz={ZONE}&until={YEAR}-12-31"  # what the page asks: 31 days
VIEWS = (
    ("graph (the page's data)", f"graph?tz={ZONE}&year={YEAR}"),
    ("graph, one source", f"graph?source=codex&tz={ZONE}&year={YEAR}"),
    ("sessions, last 31 days", f"sessions?{RECENT}"),
    ("sessions, whole year", f"sessions?tz={ZONE}&year={YEAR}"),
    ("daily", f"daily?tz={ZONE}&year={YEAR}"),
    ("models", f"models?tz={ZONE}&year={YEAR}"),
    ("cache", f"cache?tz={ZONE}&year={YEAR}"),
    ("day", f"day/{YEAR}-06-02?tz={ZONE}"),
    ("admin/top user, 31 days", f"admin/top?by=user&{RECENT}"),
    ("admin/top user, year", f"admin/top?by=user&tz={ZONE}&year={YEAR}"),
)


def build_ledger(path: Path, events: int, batch: int = 50_000) -> float:
    ledger = Ledger(path, prices=PriceBook(), env={})
    rng = random.Random(42)
    t0 = datetime(YEAR, 1, 1, tzinfo=timezone.utc)
    started = time.perf_counter()
    done = 0
    while done < events:
        count = min(batch, events - done)
        ledger.record_many(make_events(done, count, rng, t0, events))
        done += count
    ledger.close()
    return time.perf_counter() - started


def llmledger(*argv: str) -> list[str]:
    return [sys.executable, "-m", "llmledger.cli.main", *argv]


class Dashboard:
    def __init__(self, db: Path, workdir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMLEDGER_", "XDG_"))}
        env.update(HOME=str(workdir), LLMLEDGER_HOME=str(workdir / "data"))
        argv = ["dashboard", "--db", str(db), "--no-scan", "--no-open", "--port", "0"]
        self.proc = subprocess.Popen(
            llmledger(*argv, "--tz", ZONE, "--admin"),
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self.root = ""
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                if line.startswith("llmledger dashboard on "):
                    self.root = line.split()[3].split("?")[0]
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60):
            self.proc.kill()
            sys.exit("the dashboard did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


BENCH_USER = "user-7"
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
GATEWAY_CONFIG = """
[gateway]
access_log = "off"

[[upstreams]]
name = "none"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"
models = ["never-called"]
  [[upstreams.accounts]]
  name = "a"
  api_key_env = "BENCH_UPSTREAM_KEY"

[server]
admin_token_env = "BENCH_ADMIN_TOKEN"
"""
# What a signed-in browser asks first: the page's data, and the operators' top list.
GATEWAY_VIEWS = (VIEWS[0], VIEWS[4], VIEWS[8])


class Gateway:
    """``llmledger serve`` on the ledger; ``user_key``: a ledger key of BENCH_USER's."""

    def __init__(self, db: Path, workdir: Path) -> None:
        from llmledger.gateway.keys import issue_key

        with Ledger(db, env={}) as ledger:
            self.user_key, _ = issue_key(ledger.keys, user_id=BENCH_USER)
        config = workdir / "gateway.toml"
        config.write_text(GATEWAY_CONFIG)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMLEDGER_", "XDG_"))}
        env.update(
            HOME=str(workdir),
            LLMLEDGER_HOME=str(workdir / "data"),
            BENCH_UPSTREAM_KEY="sk-unused",
            BENCH_ADMIN_TOKEN=ADMIN_TOKEN,
        )
        argv = ["serve", "--config", str(config), "--db", str(db), "--port", "0"]
        self.proc = subprocess.Popen(
            llmledger(*argv), env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.root = ""
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                if "listening on http://" in line:
                    address = line.split("listening on http://")[1].split()[0]
                    self.root = f"http://{address}/"
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60):
            self.proc.kill()
            sys.exit("the gateway did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def fetch_seconds(url: str, token: str | None = None) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as reply:
        size = len(reply.read())
    return time.perf_counter() - started, size


def time_views(
    root: str,
    runs: int,
    views: tuple[tuple[str, str], ...] = VIEWS,
    token: str | None = None,
) -> list[tuple[str, float, float, float, int]]:
    results = []
    for name, path in views:
        url = f"{root}api/dashboard/{path}"
        cold, size = fetch_seconds(url, token)
        times = [fetch_seconds(url, token)[0] for _ in range(runs)]
        results.append((name, cold, statistics.median(times), max(times), size))
    return results


def print_views(title: str, views: list[tuple[str, float, float, float, int]]) -> None:
    print(title)
    for name, cold, median, worst, size in views:
        print(
            f"  {name:<26} cold {cold:6.3f} s   median {median:6.3f} s   "
            f"slowest {worst:6.3f} s   {size / 1e3:8,.0f} kB"
        )


def time_page(root: str, runs: int) -> list[tuple[float, float]]:
    from playwright.sync_api import sync_playwright

    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs + 1):  # the first warms the browser's caches
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(f"{root}?year={YEAR}")
            page.wait_for_selector("html[data-ready]", state="attached", timeout=60_000)
            ready = page.evaluate(
                "() => performance.getEntriesByName('llmledger-ready')[0].startTime"
            )
            paint = page.evaluate(
                "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
            )
            timings.append((float(paint or 0) / 1000, float(ready) / 1000))
            context.close()
        browser.close()
    return timings[1:]


def time_command(*argv: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(llmledger(*argv), capture_output=True, text=True, check=True)
    return time.perf_counter() - started, result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", help="ledger path: used if it exists, else built and kept")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")

    workdir = Path(tempfile.mkdtemp(prefix="llmledger-bench-dashboard-"))
    db = Path(args.db) if args.db else workdir / "bench.db"
    build = None
    if not db.exists():
        build = build_ledger(db, args.events)
    events = Ledger(db, readonly=True, env={})
    count = events.count()
    events.close()

    dashboard = Dashboard(db, workdir)
    try:
        views = time_views(dashboard.root, args.runs)
        pages = time_page(dashboard.root, args.runs)
    finally:
        dashboard.stop()
    gateway = Gateway(db, workdir)
    try:
        one_user = time_views(gateway.root, args.runs, GATEWAY_VIEWS[:2], gateway.user_key)
        admin = time_views(gateway.root, args.runs, GATEWAY_VIEWS, ADMIN_TOKEN)
    finally:
        gateway.stop()
    graph_out = workdir / "data.json"
    graph_wall, graph_err = time_command(
        "graph",
        "--output",
        str(graph_out),
        "--tz",
        ZONE,
        "--no-scan",
        "--db",
        str(db),
        "--benchmark",
    )
    html_out = workdir / "report.html"
    html_wall, _ = time_command("html", str(html_out), "--tz", ZONE, "--no-scan", "--db", str(db))

    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"ledger: {count:,} events, {db.stat().st_size / 1e6:,.0f} MB", end="")
    print(f" (built in {build:.1f} s)" if build is not None else "")
    print_views(
        f"views (llmledger dashboard: GET /api/dashboard/..., {ZONE}; "
        f"median of {args.runs} after one cold):",
        views,
    )
    print_views(f"llmledger serve, {BENCH_USER}'s ledger key (their events only):", one_user)
    print_views("llmledger serve, the admin token (the whole ledger):", admin)
    paints = [p for p, _ in pages]
    readies = [r for _, r in pages]
    print(f"page in headless Chromium (median of {len(pages)}; slowest):")
    print(f"  first contentful paint     {statistics.median(paints):.3f} s ({max(paints):.3f} s)")
    print(f"  interactive (data drawn)   {statistics.median(readies):.3f} s ({max(readies):.3f} s)")
    processing = [line.strip() for line in graph_err.splitlines() if "processing time" in line]
    print(
        f"graph --output: {graph_wall:.2f} s wall ({graph_out.stat().st_size / 1e6:.1f} MB); "
        f"{processing[0] if processing else ''}"
    )
    print(f"html: {html_wall:.2f} s wall ({html_out.stat().st_size / 1e6:.1f} MB)")
    if args.db:
        graph_out.unlink()
        html_out.unlink()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

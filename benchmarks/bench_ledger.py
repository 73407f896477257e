"""Bulk-record N events into a fresh SQLite ledger, then time the daily and models reports.

    python benchmarks/bench_ledger.py [--events 1000000] [--batch 50000]

Prints events/s for ``Ledger.record_many`` (pricing + writing; building the UsageEvent
objects is timed apart, it is the caller's work) and the wall time of each report.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from llmledger import Ledger, PriceBook, UsageEvent
from llmledger.report.aggregate import ReportOptions
from llmledger.report.timezones import resolve_zone

MODELS = [
    ("claude-sonnet-4-5", "anthropic"),
    ("claude-opus-4-1", "anthropic"),
    ("gpt-5", "openai"),
    ("gpt-4o-mini", "openai"),
    ("gemini-2.5-pro", "gemini"),
    ("deepseek-chat", "deepseek"),
    ("dashscope/qwen3-max", "dashscope"),
    ("hunyuan-turbos-latest", "tencent"),  # unpriced
]
USERS = [f"user-{n}" for n in range(200)]
SOURCES = ["claude-code", "codex", "proxy", "sdk"]


def make_events(
    start: int, count: int, rng: random.Random, t0: datetime, total: int
) -> list[UsageEvent]:
    """Events spread over a year in arrival order (a ledger records usage as it happens)."""
    events = []
    step = 365 * 86400 / total
    for n in range(start, start + count):
        model, provider = MODELS[n % len(MODELS)]
        events.append(
            UsageEvent(
                model=model,
                provider=provider,
                id=f"bench:{n}",
                ts=t0 + timedelta(seconds=n * step + rng.random() * step),
                source=SOURCES[n % len(SOURCES)],
                input_tokens=rng.randrange(1, 20_000),
                cache_read_tokens=rng.randrange(0, 50_000),
                cache_write_tokens=rng.randrange(0, 2_000),
                output_tokens=rng.randrange(1, 4_000),
                user_id=USERS[n % len(USERS)],
                session_id=f"s{n // 50}",
            )
        )
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--db", help="ledger path (default: a fresh temporary file)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="llmledger-bench-")
    path = Path(args.db or os.path.join(workdir, "bench.db"))
    if path.exists():
        sys.exit(f"{path} exists; the benchmark needs a fresh ledger")
    ledger = Ledger(path, prices=PriceBook(), env={})
    rng = random.Random(42)
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)

    build = ingest = 0.0
    done = 0
    while done < args.events:
        count = min(args.batch, args.events - done)
        started = time.perf_counter()
        batch = make_events(done, count, rng, t0, args.events)
        built = time.perf_counter()
        ledger.record_many(batch)
        finished = time.perf_counter()
        build += built - started
        ingest += finished - built
        done += count

    zone = resolve_zone("Europe/Berlin")
    timings = {}
    for kind in ("daily", "models", "monthly"):
        started = time.perf_counter()
        report = ledger.build_report(ReportOptions(kind=kind, zone=zone))  # type: ignore[arg-type]
        timings[kind] = (time.perf_counter() - started, len(report.rows))
    started = time.perf_counter()
    grouped = ledger.build_report(ReportOptions(kind="daily", zone=zone, group_by="user"))
    timings["daily --group-by user"] = (time.perf_counter() - started, len(grouped.rows))
    assert ledger.count() == args.events
    ledger.close()

    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"events: {args.events:,}  database: {path.stat().st_size / 1e6:,.0f} MB")
    print(f"build UsageEvents (caller's work): {args.events / build:,.0f} events/s")
    print(
        f"record_many (price + write):       {args.events / ingest:,.0f} events/s ({ingest:.2f} s)"
    )
    for name, (seconds, rows) in timings.items():
        print(f"report {name:<24} {seconds:.3f} s ({rows:,} rows)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MB")
    shutil.rmtree(workdir)  # the temporary ledger (an explicit --db is kept)


if __name__ == "__main__":
    main()

"""The same ledger work on PostgreSQL and on SQLite, side by side: bulk-record N events, then
time the daily, models and daily --group-by user reports; peak memory of each.

    python benchmarks/bench_postgres.py [--events 10000000] [--batch 50000]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--only postgresql|sqlite]

Each backend runs in a process of its own (its peak RSS is its own). PostgreSQL gets a new
schema in the --pg database, dropped afterwards; SQLite a temporary file. Ingest is
``Ledger.record_many`` (pricing + writing: COPY into PostgreSQL); building the UsageEvent objects
is timed apart (it is the caller's work). Report times are wall times of ``build_report`` in
Europe/Berlin (days on the hour: daily and models read the hourly rollup; a group-by user reads
PostgreSQL's rollup by user, and SQLite's events).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ledger import make_events

from llmledger import Ledger, PriceBook
from llmledger.report.aggregate import ReportOptions
from llmledger.report.timezones import resolve_zone

REPORTS = (("daily", None), ("models", None), ("daily", "user"))


def run_backend(url: str, events: int, batch: int) -> dict[str, object]:
    """Ingest and report on ``url``; the figures as a dict (run in a child process)."""
    import random

    ledger = Ledger(url, prices=PriceBook(), env={})
    rng = random.Random(42)
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    build = ingest = 0.0
    done = 0
    while done < events:
        count = min(batch, events - done)
        started = time.perf_counter()
        chunk = make_events(done, count, rng, t0, events)
        built = time.perf_counter()
        ledger.record_many(chunk)
        ingest += time.perf_counter() - built
        build += built - started
        done += count
        del chunk
    zone = resolve_zone("Europe/Berlin")
    reports: dict[str, list[float]] = {}
    for kind, group in REPORTS:
        name = kind + (f" --group-by {group}" if group else "")
        for _ in range(3):
            started = time.perf_counter()
            ledger.build_report(ReportOptions(kind=kind, zone=zone, group_by=group))  # type: ignore[arg-type]
            reports.setdefault(name, []).append(time.perf_counter() - started)
    assert ledger.count() == events
    ledger.close()
    return {
        "build": events / build,
        "ingest": events / ingest,
        "ingest_seconds": ingest,
        "reports": {name: sorted(times)[1] for name, times in reports.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(backend: str, args: argparse.Namespace) -> dict[str, object]:
    """Run one backend in a fresh interpreter; its figures."""
    cmd = [sys.executable, __file__, "--child", backend, "--events", str(args.events)]
    cmd += ["--batch", str(args.batch), "--pg", args.pg]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    figures: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("postgresql", "sqlite"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(in_child(args.child, args)))
        return
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; events: {args.events:,}, batches of {args.batch:,}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    for backend in ("postgresql", "sqlite"):
        if args.only and backend != args.only:
            continue
        figures = child(backend, args)
        reports = figures["reports"]
        assert isinstance(reports, dict)
        print(
            f"{backend:<10} record_many {figures['ingest']:>9,.0f} events/s "
            f"({figures['ingest_seconds']:.1f} s); peak RSS {figures['peak_rss_mb']:,.0f} MB"
            + (f"; database {figures['size_mb']:,.0f} MB" if "size_mb" in figures else "")
        )
        for name, seconds in reports.items():
            print(f"{'':<10} report {name:<22} {seconds:.3f} s (median of 3)")
        print(f"{'':<10} load {os.getloadavg()[0]:.1f}")


def in_child(backend: str, args: argparse.Namespace) -> dict[str, object]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="llmledger-bench-") as workdir:
            path = Path(workdir) / "bench.db"
            figures = run_backend(str(path), args.events, args.batch)
            figures["size_mb"] = path.stat().st_size / 1e6
            return figures
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        url = f"{args.pg}?options=-csearch_path%3D{schema}"
        figures = run_backend(url, args.events, args.batch)
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                "AND c.relkind IN ('r', 'p')"
            ).fetchone()
        figures["size_mb"] = int(row[0] if row and row[0] else 0) / 1e6
        return figures
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()

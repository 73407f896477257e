"""Benchmark the metering gateway: direct to a fake upstream vs through ``llmledger serve``
(accounting on: every request committed to the SQLite ledger before its last byte), vs an
older checkout of it (``--before``), vs LiteLLM's proxy when one is installed, in ONE run so
the ratios share the machine's state.

    python benchmarks/bench_gateway.py                       # 2,000 requests per cell
    python benchmarks/bench_gateway.py --requests 5000 --concurrency 1,16,64
    python benchmarks/bench_gateway.py --before /tmp/old-gw  # a git worktree of an older commit
    python benchmarks/bench_gateway.py --litellm /tmp/venv-litellm/bin/litellm
    python benchmarks/bench_gateway.py --no-litellm --json results.json
    # throughput as the ledger grows: three 30-second runs into one ledger
    python benchmarks/bench_gateway.py --targets gateway --modes json --concurrency 64 \
        --duration 30 --repeat 3

LiteLLM: ``python -m venv /tmp/venv-litellm && /tmp/venv-litellm/bin/pip install
'litellm[proxy]'``; the script looks for ``litellm`` there (and in ``/tmp/litellm-venv``) and
runs it with one worker against the same fake upstream. ``--before PATH`` runs ``llmledger
serve`` from ``PATH/src`` (e.g. ``git worktree add /tmp/old-gw <commit>``).

For every (mode, concurrency, target) cell it reports throughput and latency p50/p99 (for
streams also time to first byte), the latency each proxy adds over going direct, and the CPU
time the target's process spent per request (from /proc; on a shared machine the other jobs
disturb it far less than throughput). With ``--repeat N`` every cell runs N times, interleaved,
and the medians over the runs are printed last. The load comes from keep-alive connections,
one per concurrent client, of a small HTTP/1.1 client in this script (httptools), the same for
every target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import MODEL, Cell, Target, run_cell

ROOT = Path(__file__).resolve().parents[1]
FAKE_UPSTREAM = ROOT / "tests" / "gateway" / "fake_upstream.py"
LITELLM_CANDIDATES = ("/tmp/venv-litellm/bin/litellm", "/tmp/litellm-venv/bin/litellm")


# -- processes -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_fake() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_UPSTREAM), "--no-record"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        raise SystemExit(f"fake upstream did not start: {line!r}")
    return proc, int(line.split()[1])


def start_gateway(
    workdir: Path, upstream_port: int, src: Path | None = None, extra_config: str = ""
) -> tuple[subprocess.Popen[str], int, str]:
    """``llmledger serve`` (from ``src`` when given: an older checkout) in front of the fake,
    with ``extra_config`` (TOML) appended to its config; (process, port, a ledger key)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.toml"
    config.write_text(
        f"""
[gateway]
access_log = "{workdir / "access.log"}"

[[upstreams]]
name = "fake"
protocol = "openai"
base_url = "http://127.0.0.1:{upstream_port}/v1"
models = ["gpt-*"]
  [[upstreams.accounts]]
  name = "a"
  api_key_env = "BENCH_KEY_A"
  [[upstreams.accounts]]
  name = "b"
  api_key_env = "BENCH_KEY_B"
"""
        + extra_config
    )
    env = {
        **os.environ,
        "LLMLEDGER_HOME": str(workdir / "home"),
        "BENCH_KEY_A": "sk-bench-a",
        "BENCH_KEY_B": "sk-bench-b",
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)
    llmledger = [sys.executable, "-m", "llmledger.cli.main", "--config", str(config)]
    created = subprocess.run(
        [*llmledger, "keys", "create", "--user", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    proc = subprocess.Popen(
        [*llmledger, "serve", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if "listening on http://" not in line:
        raise SystemExit(f"gateway did not start: {line!r}")
    port = int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # never let it block
    return proc, port, key


def start_litellm(
    binary: str, workdir: Path, upstream_port: int
) -> tuple[subprocess.Popen[str], int] | None:
    if not Path(binary).exists() and shutil.which(binary) is None:
        return None
    port = _free_port()
    config = workdir / "litellm.yaml"
    config.write_text(
        f"""
model_list:
  - model_name: {MODEL}
    litellm_params:
      model: openai/{MODEL}
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: sk-bench-litellm
general_settings:
  master_key: sk-litellm-master
litellm_settings:
  drop_params: true
"""
    )
    log = (workdir / "litellm.log").open("w")
    proc = subprocess.Popen(
        [binary, "--config", str(config), "--port", str(port), "--num_workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "LITELLM_LOG": "ERROR"},
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            print(f"litellm exited; see {workdir / 'litellm.log'}", file=sys.stderr)
            return None
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /health/liveliness HTTP/1.1\r\nHost: x\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    return None


def stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def _print(cells: list[Cell]) -> None:
    print(
        f"{'run':>3} {'mode':6} {'conc':>4} {'target':8} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'ttfb50':>8} {'added p50':>9} {'added p99':>9} {'added ttfb':>10} "
        f"{'cpu us':>7} {'err':>4}"
    )
    direct = {(c.run, c.mode, c.concurrency): c for c in cells if c.target == "direct"}
    for cell in cells:
        base = direct.get((cell.run, cell.mode, cell.concurrency))
        added50 = added99 = added_ttfb = ""
        if base is not None and cell.target != "direct":
            added50 = f"{cell.p50_ms - base.p50_ms:.3f}"
            added99 = f"{cell.p99_ms - base.p99_ms:.3f}"
            if cell.ttfb_p50_ms is not None and base.ttfb_p50_ms is not None:
                added_ttfb = f"{cell.ttfb_p50_ms - base.ttfb_p50_ms:.3f}"
        ttfb = "" if cell.ttfb_p50_ms is None else f"{cell.ttfb_p50_ms:.3f}"
        cpu = "" if cell.cpu_us is None else f"{cell.cpu_us:.0f}"
        print(
            f"{cell.run:>3} {cell.mode:6} {cell.concurrency:>4} {cell.target:8} {cell.rps:>9.1f} "
            f"{cell.p50_ms:>8.3f} {cell.p99_ms:>8.3f} {ttfb:>8} {added50:>9} {added99:>9} "
            f"{added_ttfb:>10} {cpu:>7} {cell.errors:>4}"
        )
    by = {(c.run, c.mode, c.concurrency, c.target): c for c in cells}
    ratios = []
    for (run, mode, conc, target), cell in sorted(by.items()):
        if target != "gateway":
            continue
        for other_name in ("before", "litellm"):
            other = by.get((run, mode, conc, other_name))
            if other is not None and other.rps:
                line = (
                    f"  run {run} {mode:6} c={conc:<3} gateway {cell.rps:,.0f} req/s vs "
                    f"{other_name} {other.rps:,.1f} req/s = {cell.rps / other.rps:,.2f}x"
                )
                if cell.cpu_us and other.cpu_us:
                    line += f"; CPU per request {cell.cpu_us / other.cpu_us:,.2f}x"
                ratios.append(line)
    if ratios:
        print("\nthroughput ratios, llmledger gateway / the other:")
        print("\n".join(ratios))
    if len({c.run for c in cells}) > 1:
        _print_medians(cells)


def _median(values: Sequence[float | None]) -> float | None:
    present = sorted(v for v in values if v is not None)
    return statistics.median(present) if present else None


def _number(value: float | None, width: int, digits: int) -> str:
    return f"{'' if value is None else f'{value:.{digits}f}':>{width}}"


def _print_medians(cells: list[Cell]) -> None:
    """Per (mode, concurrency, target): the median of each figure over the runs, added
    latencies taken per run against that run's direct cell."""
    groups: dict[tuple[str, int, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.mode, cell.concurrency, cell.target), []).append(cell)
    direct = {(c.run, c.mode, c.concurrency): c for c in cells if c.target == "direct"}
    runs = len({c.run for c in cells})
    print(f"\nmedians over {runs} runs:")
    print(
        f"{'mode':6} {'conc':>4} {'target':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ttfb50':>8} {'added p50':>9} {'added ttfb':>10} {'cpu us':>7} {'err':>4}"
    )
    medians: dict[tuple[str, int, str], float] = {}
    for (mode, conc, target), group in groups.items():
        added: list[float | None] = []
        added_ttfb: list[float | None] = []
        for cell in group:
            base = direct.get((cell.run, mode, conc))
            if base is None or target == "direct":
                continue
            added.append(cell.p50_ms - base.p50_ms)
            if cell.ttfb_p50_ms is not None and base.ttfb_p50_ms is not None:
                added_ttfb.append(cell.ttfb_p50_ms - base.ttfb_p50_ms)
        figures = {
            "rps": _median([c.rps for c in group]),
            "p50": _median([c.p50_ms for c in group]),
            "p99": _median([c.p99_ms for c in group]),
            "ttfb": _median([c.ttfb_p50_ms for c in group]),
            "added": _median(added),
            "added_ttfb": _median(added_ttfb),
            "cpu": _median([c.cpu_us for c in group]),
        }
        medians[(mode, conc, target)] = figures["rps"] or 0.0
        shown = [
            _number(figures[key], width, digits)
            for key, width, digits in (
                ("rps", 9, 1),
                ("p50", 8, 3),
                ("p99", 8, 3),
                ("ttfb", 8, 3),
                ("added", 9, 3),
                ("added_ttfb", 10, 3),
                ("cpu", 7, 0),
            )
        ]
        errors = sum(c.errors for c in group)
        print(f"{mode:6} {conc:>4} {target:8} {' '.join(shown)} {errors:>4}")
    for (mode, conc, target), rps in medians.items():
        if target != "gateway":
            continue
        for other_name in ("before", "litellm"):
            other = medians.get((mode, conc, other_name))
            if other:
                print(f"  {mode:6} c={conc:<3} median gateway / {other_name}: {rps / other:,.2f}x")


def _events_in(db: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return -1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per cell")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first")
    parser.add_argument("--duration", type=float, help="seconds per cell instead of --requests")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every cell, one ledger")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels")
    parser.add_argument("--modes", default="json,stream", help="json,stream")
    parser.add_argument(
        "--targets", default="direct,gateway,before,litellm", help="which to measure"
    )
    parser.add_argument("--before", type=Path, help="an older checkout to run as 'before'")
    parser.add_argument("--litellm", help="litellm binary")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--litellm-requests", type=int, help="requests per LiteLLM cell")
    parser.add_argument("--json", metavar="FILE", help="also write the cells as JSON")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    levels = [int(x) for x in args.concurrency.split(",")]
    modes = [m.strip() for m in args.modes.split(",")]
    wanted = {t.strip() for t in args.targets.split(",")}
    if args.no_litellm:
        wanted.discard("litellm")
    if args.before is None:
        wanted.discard("before")
    workdir = Path(tempfile.mkdtemp(prefix="llmledger-bench-"))
    processes: list[subprocess.Popen[str]] = []
    cells: list[Cell] = []
    try:
        fake, upstream_port = start_fake()
        processes.append(fake)
        targets = []
        if "direct" in wanted:
            url = f"http://127.0.0.1:{upstream_port}"
            targets.append(Target("direct", url, "/v1/chat/completions", "sk-x", fake.pid))
        for name, src in (("gateway", None), ("before", args.before)):
            if name not in wanted:
                continue
            proc, port, key = start_gateway(
                workdir / name, upstream_port, None if src is None else src / "src"
            )
            processes.append(proc)
            url = f"http://127.0.0.1:{port}"
            targets.append(Target(name, url, "/v1/chat/completions", key, proc.pid))
        if "litellm" in wanted:
            binary = args.litellm or next(
                (c for c in LITELLM_CANDIDATES if Path(c).exists()), LITELLM_CANDIDATES[0]
            )
            started = start_litellm(binary, workdir, upstream_port)
            if started is None:
                print("LiteLLM proxy not available: skipping it", file=sys.stderr)
            else:
                litellm, litellm_port = started
                processes.append(litellm)
                url = f"http://127.0.0.1:{litellm_port}"
                key = "sk-litellm-master"
                targets.append(Target("litellm", url, "/v1/chat/completions", key, litellm.pid))
        print(f"machine: {_machine()}")
        per_cell = f"{args.duration:g} s" if args.duration else f"{args.requests} requests"
        print(f"per cell: {per_cell} (+{args.warmup} warm-up)\n", flush=True)
        for run in range(1, args.repeat + 1):
            for mode in modes:
                for level in levels:
                    for target in targets:
                        count = args.requests
                        if target.name == "litellm" and args.litellm_requests:
                            count = args.litellm_requests
                        cell = asyncio.run(
                            run_cell(
                                target,
                                mode == "stream",
                                level,
                                count,
                                args.warmup,
                                args.duration,
                                run,
                            )
                        )
                        cells.append(cell)
                        cpu = "" if cell.cpu_us is None else f"  CPU {cell.cpu_us:.0f} us/req"
                        print(
                            f"  run {run} {cell.mode:6} c={cell.concurrency:<3} {cell.target:8} "
                            f"{cell.rps:>9.1f} req/s  p50 {cell.p50_ms:.3f} ms  "
                            f"p99 {cell.p99_ms:.3f} ms{cpu}  errors {cell.errors}",
                            flush=True,
                        )
            for name in ("gateway", "before"):
                db = workdir / name / "home" / "ledger.db"
                if db.exists():
                    print(f"  after run {run}: {_events_in(db):,} events in the {name} ledger")
        print()
        _print(cells)
        if args.json:
            Path(args.json).write_text(
                msgspec.json.format(
                    msgspec.json.encode(
                        {"machine": _machine(), "cells": [asdict(c) for c in cells]}
                    ),
                    indent=2,
                ).decode()
            )
    finally:
        for proc in reversed(processes):
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

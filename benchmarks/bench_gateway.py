"""Benchmark the metering gateway: direct to a fake upstream vs through ``llmledger serve``
(accounting on: every request committed to the SQLite ledger before its last byte) vs through
LiteLLM's proxy when one is installed, in ONE run so the ratios share the machine's state.

    python benchmarks/bench_gateway.py                       # 2,000 requests per cell
    python benchmarks/bench_gateway.py --requests 5000 --concurrency 1,16,64
    python benchmarks/bench_gateway.py --litellm /tmp/litellm-venv/bin/litellm
    python benchmarks/bench_gateway.py --no-litellm --json results.json

LiteLLM: ``python -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install
'litellm[proxy]'``; the script finds ``/tmp/litellm-venv/bin/litellm`` by default and runs it
with one worker against the same fake upstream.

For every (mode, concurrency, target) cell it reports throughput and latency p50/p99 (for
streams also time to first byte), and the latency the gateway adds over going direct.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import msgspec

from llmledger.gateway.client import Pool

ROOT = Path(__file__).resolve().parents[1]
FAKE_UPSTREAM = ROOT / "tests" / "gateway" / "fake_upstream.py"
DEFAULT_LITELLM = "/tmp/litellm-venv/bin/litellm"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]


@dataclass
class Cell:
    mode: str
    concurrency: int
    target: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    ttfb_p50_ms: float | None
    ttfb_p99_ms: float | None


@dataclass
class Target:
    name: str
    base_url: str
    path: str
    key: str


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


def start_gateway(workdir: Path, upstream_port: int) -> tuple[subprocess.Popen[str], int, str]:
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
    )
    env = {
        **os.environ,
        "LLMLEDGER_HOME": str(workdir / "home"),
        "BENCH_KEY_A": "sk-bench-a",
        "BENCH_KEY_B": "sk-bench-b",
    }
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


# -- load ----------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _run_cell(
    target: Target, stream: bool, concurrency: int, requests: int, warmup: int
) -> Cell:
    pool = Pool(target.base_url, connect_timeout=10)
    payload: dict[str, object] = {"model": MODEL, "messages": MESSAGES, "max_tokens": 16}
    if stream:
        payload["stream"] = True
    body = msgspec.json.encode(payload)
    headers = [
        ("authorization", f"Bearer {target.key}"),
        ("content-type", "application/json"),
    ]
    latencies: list[float] = []
    ttfbs: list[float] = []
    errors = 0

    async def one(measure: bool) -> None:
        nonlocal errors
        started = time.perf_counter()
        first = None
        try:
            response = await pool.request("POST", target.path, headers, body, timeout=60)
            while (chunk := await response.next_chunk(60)) is not None:
                if first is None and chunk:
                    first = time.perf_counter()
            response.release()
            ok = response.status == 200
        except Exception:
            ok = False
        finished = time.perf_counter()
        if not measure:
            return
        if not ok:
            errors += 1
            return
        latencies.append(finished - started)
        if stream and first is not None:
            ttfbs.append(first - started)

    async def phase(total: int, measure: bool) -> None:
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await one(measure)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await phase(warmup, False)  # opens the connections, warms caches
    start = time.perf_counter()
    await phase(requests, True)
    seconds = time.perf_counter() - start
    pool.close()
    count = len(latencies)
    return Cell(
        mode="stream" if stream else "json",
        concurrency=concurrency,
        target=target.name,
        requests=count,
        errors=errors,
        seconds=round(seconds, 3),
        rps=round(count / seconds, 1) if seconds else 0.0,
        p50_ms=round(_percentile(latencies, 0.5) * 1000, 3) if latencies else float("nan"),
        p99_ms=round(_percentile(latencies, 0.99) * 1000, 3) if latencies else float("nan"),
        ttfb_p50_ms=round(_percentile(ttfbs, 0.5) * 1000, 3) if ttfbs else None,
        ttfb_p99_ms=round(_percentile(ttfbs, 0.99) * 1000, 3) if ttfbs else None,
    )


# -- report --------------------------------------------------------------------------------------


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
        f"{'mode':6} {'conc':>4} {'target':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ttfb50':>8} {'added p50':>9} {'added p99':>9} {'added ttfb':>10} {'err':>4}"
    )
    direct = {(c.mode, c.concurrency): c for c in cells if c.target == "direct"}
    for cell in cells:
        base = direct.get((cell.mode, cell.concurrency))
        added50 = added99 = added_ttfb = ""
        if base is not None and cell.target != "direct":
            added50 = f"{cell.p50_ms - base.p50_ms:.3f}"
            added99 = f"{cell.p99_ms - base.p99_ms:.3f}"
            if cell.ttfb_p50_ms is not None and base.ttfb_p50_ms is not None:
                added_ttfb = f"{cell.ttfb_p50_ms - base.ttfb_p50_ms:.3f}"
        ttfb = "" if cell.ttfb_p50_ms is None else f"{cell.ttfb_p50_ms:.3f}"
        print(
            f"{cell.mode:6} {cell.concurrency:>4} {cell.target:8} {cell.rps:>9.1f} "
            f"{cell.p50_ms:>8.3f} {cell.p99_ms:>8.3f} {ttfb:>8} {added50:>9} {added99:>9} "
            f"{added_ttfb:>10} {cell.errors:>4}"
        )
    by = {(c.mode, c.concurrency, c.target): c for c in cells}
    ratios = []
    for (mode, conc, target), cell in sorted(by.items()):
        if target != "gateway":
            continue
        other = by.get((mode, conc, "litellm"))
        if other is not None and other.rps:
            ratios.append(
                f"  {mode:6} c={conc:<3} gateway {cell.rps:,.0f} req/s vs litellm "
                f"{other.rps:,.1f} req/s = {cell.rps / other.rps:,.1f}x"
            )
    if ratios:
        print("\nthroughput ratio, llmledger gateway / LiteLLM proxy:")
        print("\n".join(ratios))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per cell")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels")
    parser.add_argument("--modes", default="json,stream", help="json,stream")
    parser.add_argument("--litellm", default=DEFAULT_LITELLM, help="litellm binary")
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
    workdir = Path(tempfile.mkdtemp(prefix="llmledger-bench-"))
    fake = gateway = litellm = None
    cells: list[Cell] = []
    try:
        fake, upstream_port = start_fake()
        gateway, gateway_port, key = start_gateway(workdir, upstream_port)
        targets = [
            Target("direct", f"http://127.0.0.1:{upstream_port}", "/v1/chat/completions", "sk-x"),
            Target("gateway", f"http://127.0.0.1:{gateway_port}", "/v1/chat/completions", key),
        ]
        if not args.no_litellm:
            started = start_litellm(args.litellm, workdir, upstream_port)
            if started is None:
                print("LiteLLM proxy not available: skipping it", file=sys.stderr)
            else:
                litellm, litellm_port = started
                targets.append(
                    Target(
                        "litellm",
                        f"http://127.0.0.1:{litellm_port}",
                        "/v1/chat/completions",
                        "sk-litellm-master",
                    )
                )
        print(f"machine: {_machine()}")
        print(f"requests per cell: {args.requests} (+{args.warmup} warm-up)\n", flush=True)
        for mode in modes:
            for level in levels:
                for target in targets:
                    count = args.requests
                    if target.name == "litellm" and args.litellm_requests:
                        count = args.litellm_requests
                    cell = asyncio.run(
                        _run_cell(target, mode == "stream", level, count, args.warmup)
                    )
                    cells.append(cell)
                    print(
                        f"  {cell.mode:6} c={cell.concurrency:<3} {cell.target:8} "
                        f"{cell.rps:>9.1f} req/s  p50 {cell.p50_ms:.3f} ms  "
                        f"p99 {cell.p99_ms:.3f} ms  errors {cell.errors}",
                        flush=True,
                    )
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
        stop(litellm)
        stop(gateway)
        stop(fake)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

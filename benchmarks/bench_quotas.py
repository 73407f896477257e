"""What enforcing plans and budgets costs the gateway: ``llmledger serve`` with quotas off (no
``[quotas]``) and with quotas enforced (every request reserved before the upstream call and
settled after it, on a plan it never exhausts), side by side in ONE run against the same fake
upstream, with bench_gateway.py's load generator.

    python benchmarks/bench_quotas.py                          # 2,000 requests per cell
    python benchmarks/bench_quotas.py --concurrency 1,16 --repeat 3 --modes json
    # and an older checkout's enforcement in the same run (its src/ from `git archive`)
    python benchmarks/bench_quotas.py --before /tmp/quota-before

Prints throughput, p50/p99 and CPU per request of both, then the cost of enforcement: added
p50 (target <= 0.2 ms) and lost throughput (target <= 10 %), medians over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateway import _machine, start_fake, start_gateway, stop
from loadgen import Cell, Target, run_cell

QUOTAS = """
[quotas]
reservation_seconds = 600

[plans.hobby]
tokens = 1000000000000000
"""


def start(
    workdir: Path, upstream_port: int, quotas: bool, src: Path | None = None, name: str = ""
) -> tuple[subprocess.Popen[str], Target]:
    """``llmledger serve`` (from ``src`` when given) in front of the fake, with or without
    ``[quotas]``."""
    extra = QUOTAS if quotas else ""
    proc, port, key = start_gateway(workdir, upstream_port, src=src, extra_config=extra)
    name = name or ("enforced" if quotas else "off")
    return proc, Target(name, f"http://127.0.0.1:{port}", "/v1/chat/completions", key, proc.pid)


def _load() -> str:
    """The 1/5/15-minute load averages (the machine is shared: every figure goes with it)."""
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _report(cells: list[Cell], enforced: str = "enforced") -> None:
    print(f"\nmedians over the runs (quotas off -> {enforced}):")
    keys = sorted({(c.mode, c.concurrency) for c in cells})
    for mode, level in keys:

        def pick(target: str, field: str, mode: str = mode, level: int = level) -> float:
            found = [
                getattr(c, field)
                for c in cells
                if (c.mode, c.concurrency, c.target) == (mode, level, target)
            ]
            return _median([v for v in found if v is not None])

        rps_off, rps_on = pick("off", "rps"), pick(enforced, "rps")
        p50_off, p50_on = pick("off", "p50_ms"), pick(enforced, "p50_ms")
        cpu_off, cpu_on = pick("off", "cpu_us"), pick(enforced, "cpu_us")
        lost = (1 - rps_on / rps_off) * 100 if rps_off else float("nan")
        print(
            f"  {mode:6} c={level:<3} {rps_off:>8.1f} -> {rps_on:>8.1f} req/s ({lost:+.1f} % lost)"
            f"  p50 {p50_off:.3f} -> {p50_on:.3f} ms (added {p50_on - p50_off:+.3f} ms)"
            f"  CPU {cpu_off:.0f} -> {cpu_on:.0f} us/req"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per cell")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every cell, interleaved")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated levels")
    parser.add_argument("--modes", default="json,stream", help="json,stream")
    parser.add_argument(
        "--before", type=Path, help="an older checkout (PATH/src) enforcing quotas, same run"
    )
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    levels = [int(x) for x in args.concurrency.split(",")]
    modes = [m.strip() for m in args.modes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="llmledger-bench-quotas-"))
    processes: list[subprocess.Popen[str]] = []
    cells: list[Cell] = []
    try:
        fake, upstream_port = start_fake()
        processes.append(fake)
        targets = []
        for name, quotas in (("off", False), ("enforced", True)):
            proc, target = start(workdir / name, upstream_port, quotas)
            processes.append(proc)
            targets.append(target)
        if args.before is not None:
            src = args.before / "src"
            proc, target = start(workdir / "before", upstream_port, True, src, "before")
            processes.append(proc)
            targets.append(target)
        print(f"machine: {_machine()}, load {_load()}")
        print(f"per cell: {args.requests} requests (+{args.warmup} warm-up)\n", flush=True)
        for run in range(1, args.repeat + 1):
            for mode in modes:
                for level in levels:
                    for target in targets:
                        cell = asyncio.run(
                            run_cell(
                                target,
                                mode == "stream",
                                level,
                                args.requests,
                                args.warmup,
                                None,
                                run,
                            )
                        )
                        cells.append(cell)
                        cpu = "" if cell.cpu_us is None else f"  CPU {cell.cpu_us:.0f} us/req"
                        print(
                            f"  run {run} {cell.mode:6} c={cell.concurrency:<3} {target.name:8} "
                            f"{cell.rps:>9.1f} req/s  p50 {cell.p50_ms:.3f} ms  "
                            f"p99 {cell.p99_ms:.3f} ms{cpu}  errors {cell.errors}",
                            flush=True,
                        )
        _report(cells)
        if args.before is not None:
            _report(cells, "before")
        print(f"load at the end: {_load()}")
    finally:
        for proc in reversed(processes):
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: cold and warm ``llmledger --json`` on a generated agent-log corpus, side by side
with ccusage on the same files.

    python benchmarks/bench_scan.py [--out DIR] [--runs 3] [--no-ccusage]
    python benchmarks/bench_scan.py --before /tmp/before   # also an older checkout, same run
    python benchmarks/bench_scan.py --after /tmp/after     # a checkout instead of the installed
                                                           # package (a shared working tree)

Builds (or reuses) the corpus of ``agent_corpus.py`` (default size: 1,000 Claude Code session
files with 100,000 assistant messages, plus Codex, Gemini CLI and OpenCode logs), then times:

* cold: ``llmledger --json`` into an empty ledger (scan everything + daily report);
* warm: the same command again, nothing new to read;
* peak memory of the whole process tree (workers included), sampled: summed RSS and PSS;
* every corpus file is read once before each pair of runs, untimed: both tools read it from
  the page cache;
* ccusage: ``npx -y ccusage@20.0.24 daily --json --offline`` with HOME and CLAUDE_CONFIG_DIR
  pointing at the corpus (skipped when npx is missing or fails);

and compares the per-agent totals of both tools with the generator's exact expected totals.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_corpus import generate
from corpus_common import Spec

CCUSAGE = ["npx", "-y", "ccusage@20.0.24"]
FIELDS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")


class TreeMemory:
    """Samples a process and all its descendants (Linux /proc): the peak of their summed RSS
    (counts pages shared after a fork once per process: an upper bound) and of their summed
    PSS (shared pages split between the processes sharing them: the tree's real footprint)."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self) -> set[int]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            parent = frontier.pop()
            for child, ppid in parents.items():
                if ppid == parent and child not in tree:
                    tree.add(child)
                    frontier.append(child)
        return tree

    @staticmethod
    def _usage(pid: int) -> tuple[int, int]:
        rss = pss = 0
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                for line in handle:
                    if line.startswith(b"Rss:"):
                        rss = int(line.split()[1]) * 1024
                    elif line.startswith(b"Pss:"):
                        pss = int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            pass
        return rss, pss

    def _run(self) -> None:
        while not self._stop.is_set():
            usage = [self._usage(pid) for pid in self._tree()]
            self.peak_rss = max(self.peak_rss, sum(u[0] for u in usage))
            self.peak_pss = max(self.peak_pss, sum(u[1] for u in usage))
            self._stop.wait(self.interval)

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._thread.join()
        return self.peak_rss, self.peak_pss


Peak = tuple[int, int]  # (summed RSS, summed PSS) in bytes
CPU_SECONDS: list[float] = []  # of every command timed, in order
COLD_CPU: list[float] = []  # of llmledger's cold runs
CCUSAGE_CPU: list[float] = []  # of ccusage's runs
BEFORE_CPU: list[float] = []  # of the older checkout's cold runs (--before)


def peak_max(a: Peak, b: Peak) -> Peak:
    return max(a[0], b[0]), max(a[1], b[1])


def timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, Peak, str]:
    """Wall seconds, peak tree memory and stdout of one command (its CPU seconds, user +
    system of the whole tree, are appended to CPU_SECONDS)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    memory = TreeMemory(process.pid)
    out, err = process.communicate()
    wall = time.perf_counter() - started
    peak = memory.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}): {err.strip()[-500:]}")
    return wall, peak, out


def llmledger_argv() -> list[str]:
    """The console script pip installed beside this interpreter: what a user's venv runs.
    ``shutil.which`` would find a version manager's shim first where one is on PATH (pyenv's
    is a bash script that runs ``pyenv exec``: ~0.1 s per run here, not ours to count)."""
    script = Path(sys.executable).parent / "llmledger"
    if script.is_file():
        return [str(script)]
    found = shutil.which("llmledger")
    return [found] if found else [sys.executable, "-m", "llmledger.cli.main"]


def build_corpus(out: Path, spec: Spec) -> dict[str, Any]:
    expected_path = out / "expected.json"
    if expected_path.is_file():
        expected: dict[str, Any] = json.loads(expected_path.read_text())
        if expected.get("spec") == spec.__dict__:
            print(f"reusing the corpus in {out}")
            return expected
        shutil.rmtree(out / "home", ignore_errors=True)
    started = time.perf_counter()
    generate(out, spec)
    print(f"wrote the corpus in {time.perf_counter() - started:.1f} s")
    result: dict[str, Any] = json.loads(expected_path.read_text())
    return result


def corpus_size(home: Path) -> tuple[int, int]:
    files = size = 0
    for root, _, names in os.walk(home):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    return files, size


def read_corpus(home: Path) -> float:
    """Read every corpus file once, untimed, so that the first timed run of either tool does
    not pay for disk reads (this VM's memory reclaim evicts page cache left idle for a while;
    our cold run goes first in each pair and would warm the cache for ccusage). Seconds taken."""
    started = time.perf_counter()
    for root, _, names in os.walk(home):
        for name in names:
            with open(os.path.join(root, name), "rb") as handle:
                while handle.read(8 << 20):
                    pass
    return time.perf_counter() - started


def agent_env(home: Path, ledger_home: Path | None = None) -> dict[str, str]:
    """The same agent locations for both tools: the corpus HOME, and both Claude Code config
    dirs (``~/.claude`` and ``~/.config/claude``) named in CLAUDE_CONFIG_DIR."""
    env = {k: v for k, v in os.environ.items() if k != "CODEX_HOME"}
    # An installed package runs from cached bytecode; a shell that forbids writing it (this
    # sandbox sets PYTHONDONTWRITEBYTECODE) would make every run recompile ~60 modules.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"), TZ="UTC")
    env["CLAUDE_CONFIG_DIR"] = f"{home / '.claude'},{home / '.config' / 'claude'}"
    for name in ("XDG_CONFIG_HOME", "LLMLEDGER_DB", "LLMLEDGER_CONFIG"):
        env.pop(name, None)
    if ledger_home is not None:
        env["LLMLEDGER_HOME"] = str(ledger_home)
    return env


def llmledger_once(
    home: Path, warm_runs: int = 3, src: Path | None = None, cold_cpu: list[float] = COLD_CPU
) -> tuple[float, list[float], Peak, str]:
    """One cold run into an empty ledger, then ``warm_runs`` re-runs with nothing new (with
    ``src``: the package of a checkout, ``PATH/src``, instead of the installed one); the cold
    run's CPU seconds go to ``cold_cpu``."""
    with tempfile.TemporaryDirectory(prefix="llmledger-bench-") as ledger_home:
        env = agent_env(home, Path(ledger_home))
        if src is not None:
            env["PYTHONPATH"] = str(src)
        cold, peak, output = timed([*llmledger_argv(), "--json"], env)
        cold_cpu.append(CPU_SECONDS[-1])
        warm = []
        for _ in range(warm_runs):
            wall, warm_peak, _ = timed([*llmledger_argv(), "--json"], env)
            warm.append(wall)
            peak = peak_max(peak, warm_peak)
    return cold, warm, peak, output


def per_agent_llmledger(home: Path, src: Path | None = None) -> dict[str, dict[str, int]]:
    totals = {}
    with tempfile.TemporaryDirectory(prefix="llmledger-bench-") as ledger_home:
        env = agent_env(home, Path(ledger_home))
        if src is not None:
            env["PYTHONPATH"] = str(src)
        for agent, flag in (("claude-code", "--claude"), ("codex", "--codex")):
            _, _, out = timed([*llmledger_argv(), "daily", "--json", "--tz", "UTC", flag], env)
            totals[agent] = {f: json.loads(out)["totals"][f] for f in FIELDS}
    return totals


def ccusage_ready(home: Path) -> bool:
    """Fetch the package once, untimed; False (and why) when npx is missing or fails."""
    if shutil.which("npx") is None:
        print("ccusage: skipped (npx is not installed)")
        return False
    try:
        subprocess.run(
            [*CCUSAGE, "--version"],
            env=agent_env(home),
            capture_output=True,
            check=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"ccusage: skipped ({exc})")
        return False
    return True


def ccusage_once(home: Path) -> tuple[float, Peak]:
    wall, peak, _ = timed([*CCUSAGE, "daily", "--json", "--offline"], agent_env(home))
    CCUSAGE_CPU.append(CPU_SECONDS[-1])
    return wall, peak


def ccusage_agents(home: Path) -> dict[str, dict[str, int]]:
    totals = {}
    for agent, command in (("claude-code", "claude"), ("codex", "codex")):
        argv = [*CCUSAGE, command, "daily", "--json", "--offline", "-z", "UTC"]
        _, _, out = timed(argv, agent_env(home))
        totals[agent] = {f: json.loads(out)["totals"].get(f, 0) for f in FIELDS}
    return totals


def run_both(
    home: Path,
    runs: int,
    with_ccusage: bool,
    before: Path | None = None,
    after: Path | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Runs interleaved (ours, then ccusage, again and again) so that both see the same load;
    with ``before``, an older checkout's run goes first in each round; with ``after``, ours is
    that checkout's package instead of the installed one."""
    ours: dict[str, Any] = {"cold": [], "warm": [], "peak": (0, 0)}
    old: dict[str, Any] = {"cold": [], "warm": [], "peak": (0, 0)}
    ours["before"] = old if before is not None else None
    theirs: dict[str, Any] | None = {"wall": [], "peak": (0, 0)} if with_ccusage else None
    for _ in range(runs):
        if before is not None:
            read_corpus(home)
            cold, warm, peak, _ = llmledger_once(home, src=before / "src", cold_cpu=BEFORE_CPU)
            old["cold"].append(cold)
            old["warm"] += warm
            old["peak"] = peak_max(old["peak"], peak)
        read_corpus(home)  # each pair starts from the page cache, whatever happened before
        cold, warm, peak, _ = llmledger_once(home, src=after / "src" if after else None)
        ours["cold"].append(cold)
        ours["warm"] += warm
        ours["peak"] = peak_max(ours["peak"], peak)
        if theirs is not None:
            try:
                wall, peak = ccusage_once(home)
            except RuntimeError as exc:
                print(f"ccusage: skipped ({exc})")
                theirs = None
                continue
            theirs["wall"].append(wall)
            theirs["peak"] = peak_max(theirs["peak"], peak)
    if theirs is not None:
        theirs["agents"] = ccusage_agents(home)
    return ours, theirs


def memory(peak: Peak) -> str:
    return (
        f"{peak[0] / 2**20:.0f} MB summed RSS, {peak[1] / 2**20:.0f} MB summed PSS (process tree)"
    )


def truth(expected: dict[str, Any]) -> dict[str, dict[str, int]]:
    result = {}
    for agent in ("claude-code", "codex"):
        t = expected["by_zone"]["UTC"][agent]["all_days"]
        result[agent] = {
            "inputTokens": t["input"],
            "outputTokens": t["output"],
            "cacheCreationTokens": t["cache_write"],
            "cacheReadTokens": t["cache_read"],
            "totalTokens": t["total"],
        }
    return result


def report(
    expected: dict[str, Any],
    ours: dict[str, Any],
    theirs: dict[str, Any] | None,
    src: Path | None = None,
) -> None:
    cold, warm = statistics.median(ours["cold"]), statistics.median(ours["warm"])
    runs = ", ".join(f"{w:.2f}" for w in ours["cold"])
    print(f"\nllmledger cold  : {cold:.2f} s median (runs: {runs})")
    print(f"llmledger CPU   : {statistics.median(COLD_CPU):.2f} s user+system, cold, median")
    print(f"llmledger warm  : {warm:.3f} s median (min {min(ours['warm']):.3f})")
    print(f"llmledger peak  : {memory(ours['peak'])}")
    old = ours.get("before")
    if old is not None:
        before_cold = statistics.median(old["cold"])
        print(
            f"before cold     : {before_cold:.2f} s median (runs: "
            + ", ".join(f"{w:.2f}" for w in old["cold"])
            + f"); after/before {cold / before_cold:.2f}"
        )
        print(f"before CPU      : {statistics.median(BEFORE_CPU):.2f} s user+system, cold, median")
        print(f"before warm     : {statistics.median(old['warm']):.3f} s median")
        print(f"before peak     : {memory(old['peak'])}")
    if theirs is not None:
        median = statistics.median(theirs["wall"])
        runs = ", ".join(f"{w:.2f}" for w in theirs["wall"])
        print(f"ccusage daily   : {median:.2f} s median (runs: {runs})")
        print(f"ccusage CPU     : {statistics.median(CCUSAGE_CPU):.2f} s user+system, median")
        print(f"ccusage peak    : {memory(theirs['peak'])}")
        pairs = [a / b for a, b in zip(ours["cold"], theirs["wall"])]
        print(
            f"cold ratio      : llmledger / ccusage = {cold / median:.2f} (medians); "
            f"per interleaved pair: {', '.join(f'{r:.2f}' for r in pairs)}"
        )
    print("\ntotals (all days, UTC)             " + "".join(f"{f:>20}" for f in FIELDS))
    right = truth(expected)
    ours_agents = per_agent_llmledger(Path(expected["_home"]), src)
    for agent in ("claude-code", "codex"):
        rows = [("expected", right[agent]), ("llmledger", ours_agents[agent])]
        if theirs is not None:
            rows.append(("ccusage", theirs["agents"][agent]))
        for label, values in rows:
            mark = "" if values == right[agent] else "  <- differs"
            cells = "".join(f"{values[f]:>20,}" for f in FIELDS)
            print(f"{agent:<12} {label:<21}{cells}{mark}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "agent-corpus")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--claude-files", type=int, default=1000)
    parser.add_argument("--claude-messages", type=int, default=100_000)
    parser.add_argument("--no-ccusage", action="store_true")
    parser.add_argument(
        "--before", type=Path, help="a checkout of an older commit, timed in the same rounds"
    )
    parser.add_argument(
        "--after", type=Path, help="time this checkout's package instead of the installed one"
    )
    args = parser.parse_args(argv)
    spec = Spec(claude_files=args.claude_files, claude_messages=args.claude_messages)
    expected = build_corpus(args.out, spec)
    home = args.out / "home"
    expected["_home"] = str(home)
    files, size = corpus_size(home)
    print(
        f"corpus: {files:,} files, {size / 1e6:,.0f} MB; machine: {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.platform()}"
    )
    print(f"llmledger command: {' '.join(llmledger_argv())}")
    if args.after is not None:
        print(f"llmledger package: {args.after / 'src'} (PYTHONPATH)")
    print(f"corpus read once before timing: {read_corpus(home):.2f} s (then from the page cache)")
    with_ccusage = not args.no_ccusage and ccusage_ready(home)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    ours, theirs = run_both(home, args.runs, with_ccusage, args.before, args.after)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    report(expected, ours, theirs, args.after / "src" if args.after else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

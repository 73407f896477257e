"""Benchmark: ``llmledger statusline``'s latency as a whole process, as Claude Code runs it
after every message.

    flock /tmp/bench.lock python benchmarks/bench_statusline.py [--calls 40] [--history 2000]

Builds a home with one Claude Code transcript of ``--history`` calls (a long session) and a
ledger holding it plus 50,000 other events, then times, each as a new process with the
statusline JSON on stdin:

* ``python -c pass``: the interpreter alone on this machine (its site hooks included);
* the first call of a transcript (no snapshot yet: it files the transcript in the ledger);
* warm calls, each after one more assistant line was appended (the usual case), through
  ``python -m llmledger.statusline`` (what the ``llmledger-statusline`` script runs), through
  ``llmledger statusline`` (the whole command line) and, to show the statusline's own share,
  ``python -S`` with ``PYTHONPATH=src`` (no site hooks);
* a background refresh (``python -m llmledger.statusline.refresh``), which runs at most once a
  minute.

Prints medians and 90th percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SESSION = "ed8cd0a3-5d1c-4f0e-9d2a-8b7f4c3e2a10"
MODEL = "claude-sonnet-4-5-20250929"


def assistant(index: int, moment: datetime) -> str:
    usage = {
        "input_tokens": 4,
        "cache_creation_input_tokens": 1500,
        "cache_read_input_tokens": 20_000 + index,
        "cache_creation": {"ephemeral_5m_input_tokens": 1500, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 400,
        "service_tier": "standard",
    }
    text = "x" * 600  # transcripts carry the content too
    line = {
        "parentUuid": f"p{index}",
        "isSidechain": False,
        "userType": "external",
        "cwd": "/work/app",
        "sessionId": SESSION,
        "version": "2.0.14",
        "message": {
            "id": f"msg_{index:08d}",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": usage,
        },
        "requestId": f"req_{index:08d}",
        "type": "assistant",
        "uuid": f"u{index}",
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }
    user = {"type": "user", "message": {"role": "user", "content": text}, "uuid": f"q{index}"}
    return json.dumps(user) + "\n" + json.dumps(line) + "\n"


def timed(argv: list[str], env: dict[str, str], stdin: str = "") -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stderr}")
    return elapsed


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {statistics.median(ordered):6.1f} ms   p90 {p90:6.1f} ms   (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="warm calls per variant")
    parser.add_argument("--history", type=int, default=2000, help="calls already in the session")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-statusline-"))
    home = tmp / "home"
    folder = home / ".claude" / "projects" / "-work-app"
    folder.mkdir(parents=True)
    transcript = folder / f"{SESSION}.jsonl"
    now = datetime.now(timezone.utc)
    start = now - timedelta(minutes=90)
    step = timedelta(minutes=80) / max(args.history, 1)
    with transcript.open("w", encoding="utf-8") as handle:
        for index in range(args.history):
            handle.write(assistant(index, start + index * step))
    env = {**os.environ, "HOME": str(home), "LLMLEDGER_HOME": str(tmp / "data"), "TZ": "UTC"}
    # Compiled modules cached as an installed package has them (in a folder of the run's own,
    # so the checkout stays clean), whatever PYTHONDONTWRITEBYTECODE says here.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    env.pop("LLMLEDGER_DB", None)
    env.pop("LLMLEDGER_CONFIG", None)
    sys.path.insert(0, str(ROOT / "src"))
    from llmledger.ledger import Ledger

    (tmp / "data").mkdir()
    with Ledger(tmp / "data" / "ledger.db") as ledger:  # other usage of the last month
        ledger.record_many(
            Ledger.make_event(
                model="gpt-5",
                source="codex",
                ts=now - timedelta(minutes=i % 43_000),
                input_tokens=1000 + i % 7,
                output_tokens=100,
                session_id=f"s{i % 300}",
            )
            for i in range(50_000)
        )
    payload = {
        "session_id": SESSION,
        "transcript_path": str(transcript),
        "cwd": "/work/app",
        "model": {"id": MODEL, "display_name": "Sonnet 4.5"},
        "workspace": {"current_dir": "/work/app", "project_dir": "/work/app"},
        "version": "2.0.14",
        "cost": {"total_cost_usd": 1.0, "total_duration_ms": 1, "total_api_duration_ms": 1},
        "rate_limits": {
            "five_hour": {"used_percentage": 23.5, "resets_at": int(now.timestamp()) + 7200},
            "seven_day": {"used_percentage": 41.2, "resets_at": int(now.timestamp()) + 90_000},
        },
    }
    stdin = json.dumps(payload)
    python = sys.executable
    slow = ["--refresh-seconds", "86400"]  # warm calls: no refresh falls due meanwhile
    variants: dict[str, tuple[list[str], dict[str, str]]] = {
        "python -S, PYTHONPATH=src (no site hooks)": (
            [python, "-S", "-m", "llmledger.statusline", *slow],
            {**env, "PYTHONPATH": str(ROOT / "src")},
        ),
        "python -m llmledger.statusline": ([python, "-m", "llmledger.statusline", *slow], env),
        "llmledger statusline (whole CLI)": (
            [python, "-m", "llmledger.cli.main", "statusline", *slow],
            env,
        ),
    }
    size = transcript.stat().st_size / 1e6
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, ")
    print(
        f"Python {platform.python_version()}, {args.history} calls ({size:.1f} MB) in the session"
    )
    baseline = [timed([python, "-c", "pass"], env) for _ in range(args.calls)]
    print(f"{'python -c pass':44} {summary(baseline)}")
    bare = [timed([python, "-S", "-c", "pass"], env) for _ in range(args.calls)]
    print(f"{'python -S -c pass':44} {summary(bare)}")
    first = timed([python, "-m", "llmledger.statusline"], env, stdin)
    for argv, variant_env in variants.values():  # compile and cache every module once
        timed(argv, variant_env, stdin)
    print(f"{'first call (files the transcript)':44} {first:6.1f} ms")
    index = args.history
    snapshot = next((tmp / "data" / "statusline").glob("*.snap.json"))
    taken = json.loads(snapshot.read_text())["taken_us"]
    for name, (argv, variant_env) in variants.items():
        samples = []
        for _ in range(args.calls):
            with transcript.open("a", encoding="utf-8") as handle:
                handle.write(assistant(index, datetime.now(timezone.utc)))
            index += 1
            samples.append(timed(argv, variant_env, stdin))
        print(f"{name:44} {summary(samples)}")
    if json.loads(snapshot.read_text())["taken_us"] != taken:
        print("(a refresh ran during the warm calls: the figures above include it)")
    key_files = sorted((tmp / "data" / "statusline").glob("*.snap.json"))
    key = key_files[0].name.removesuffix(".snap.json")
    refresh = [timed([python, "-m", "llmledger.statusline.refresh", key], env) for _ in range(5)]
    print(f"{'background refresh (at most once a minute)':44} {summary(refresh)}")
    line = subprocess.run(
        [python, "-m", "llmledger.statusline", *slow],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"line: {line}")


if __name__ == "__main__":
    main()

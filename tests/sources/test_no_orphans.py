"""A scan stopped by a signal or ``kill -9`` leaves no worker or scan process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import claude_line, write_jsonl

# Runs a parallel scan that stops in its first progress report, after writing the pids of the
# worker processes and the scan process to a file, until the test sends it a signal.
SCRIPT = """
import multiprocessing, sys, time
from pathlib import Path
from llmledger.ledger import Ledger
from llmledger.scan import run

run.PARALLEL_MIN_BYTES = 0
pids = Path(sys.argv[2])

def progress(done, total):
    if not pids.exists():
        children = [p.pid for p in multiprocessing.active_children()]
        pids.write_text(" ".join(map(str, children)))
    time.sleep(600)

with Ledger(sys.argv[1]) as ledger:
    run.scan(ledger, env={"HOME": sys.argv[3]}, workers=2, progress=progress)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet (its parent is gone: init reaps it soon).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGHUP", "SIGINT"])
def test_a_stopped_scan_leaves_no_process_behind(
    tmp_path: Path, isolated_home: Path, how: str
) -> None:
    for n in range(8):
        write_jsonl(
            isolated_home / ".claude" / "projects" / "p" / f"s{n}.jsonl",
            [claude_line(f"m{n}-{i}", "r", output=i + 1) for i in range(20)],
        )
    pids_file = tmp_path / "pids"
    scan = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "l.db"), str(pids_file), str(isolated_home)]
    )
    try:
        deadline = time.monotonic() + 60
        while not pids_file.exists() or not pids_file.read_text():
            assert scan.poll() is None, "the scan ended before it reported progress"
            assert time.monotonic() < deadline, "the scan never reported progress"
            time.sleep(0.05)
        children = [int(pid) for pid in pids_file.read_text().split()]
        # Two workers and the scan process (one fewer worker where the scan writes in-process).
        assert len(children) in (2, 3)
        assert all(alive(pid) for pid in children)
        scan.send_signal(getattr(signal, how))
        scan.wait(30)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in children if alive(pid)] == []
    finally:
        if scan.poll() is None:
            scan.kill()
            scan.wait()

"""``llmledger dashboard`` as a real process: it imports the agents' logs first (as bare
``llmledger`` does), listens on 127.0.0.1 only, serves what ``daily --json`` reports, ends with
0 on SIGTERM; a busy port or an option it does not take is one clear line."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.web.browser import DashboardProcess
from tests.web.conftest import CliResult

ROOT = Path(__file__).resolve().parents[2]
Cli = Callable[..., CliResult]


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:  # a loopback address
        return json.loads(reply.read())


def test_it_scans_first_and_serves_on_loopback(tmp_path: Path, cli: Cli) -> None:
    workdir = tmp_path / "run"
    shutil.copytree(ROOT / "examples" / "home", workdir / "home")
    db = tmp_path / "ledger.db"
    process = DashboardProcess(db, workdir, "--tz", "UTC", "--since", "2026-03-01").start()
    try:
        assert process.url.startswith("http://127.0.0.1:")
        assert process.url.endswith("/?since=2026-03-01&tz=UTC")  # the window it opens on
        port = int(process.root.rsplit(":", 1)[1].rstrip("/"))
        graph = fetch(f"{process.root}api/dashboard/graph?tz=UTC&year=2026")
        with socket.socket() as other:  # bound to 127.0.0.1, not to every address
            assert other.connect_ex((_outward_address(), port)) != 0
    finally:
        assert process.stop() == 0
    daily = cli("daily", "--json", "--tz", "UTC", "--no-scan", "--db", str(db))
    rows = daily.json()["daily"]
    assert len(rows) == 5  # the sample home's five days, imported by the dashboard's scan
    assert [(d["date"], d["totals"]["tokens"]) for d in graph["contributions"]] == [
        (r["date"], r["totalTokens"]) for r in rows
    ]


def _outward_address() -> str:
    """An address of this machine that is not loopback (the loopback one when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks a route
            address = str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.2"
    return address if not address.startswith("127.") else "127.0.0.2"


def test_a_busy_port_is_one_line(seeded_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["dashboard", "--no-scan", "--no-open", "--port", str(port)]
        result = subprocess.run(
            [sys.executable, "-m", "llmledger.cli.main", *command, "--db", str(seeded_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"llmledger: error: cannot listen on 127.0.0.1:{port}: the port is already in use; "
        "stop the other process or pick another --port\n"
    )


def test_options_it_does_not_take(cli: Cli, tmp_path: Path) -> None:
    result = cli("dashboard", "--user", "ada", "--no-scan", "--db", str(tmp_path / "l.db"))
    assert (result.code, result.err) == (
        2,
        "llmledger: error: dashboard filters by --source only; --user applies to reports\n",
    )
    result = cli("dashboard", "--port", "70000")
    assert result.code == 2
    assert "'70000' is not a port number (0-65535)" in result.err

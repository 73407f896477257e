"""An agent-log directory that cannot be listed is skipped and said: ``scan`` names it (path,
source, reason) on stderr and in --json, ``sources`` in its table and --json, reports count
it on stderr; the rest of the logs are still read and the scan succeeds.

Tests run as root here, where chmod 000 does not stop reads: most of them make ``os.scandir``
refuse one path; ``test_scan_as_a_user_who_may_not_read`` does it for real, as a user."""

from __future__ import annotations

import errno
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmledger.ledger import Ledger
from llmledger.scan import SkippedFile, scan
from llmledger.sources import walk

from .helpers import claude_log, cli

REPO_SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def refuse(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Paths added to the yielded set cannot be listed (PermissionError, as chmod 000)."""
    refused: set[str] = set()
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) in refused:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(walk.os, "scandir", scandir)
    yield refused


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(str(tmp_path / "ledger.db")) as led:
        yield led


def env_of(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share")}


def test_walk_notes_what_it_cannot_list(tmp_path: Path, refuse: set[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.jsonl").write_text("{}\n")
    refuse.add(str(tmp_path / "a"))
    with walk.noting_unreadable() as unreadable:
        found = list(walk.walk_files(tmp_path, lambda name: name.endswith(".jsonl")))
        assert list(walk.walk_files(tmp_path / "missing", lambda name: True)) == []
    assert found == [str(tmp_path / "b" / "x.jsonl")]
    assert unreadable == {str(tmp_path / "a"): "permission denied"}
    # Nobody listening: the walk is as quiet as before.
    assert list(walk.walk_files(tmp_path, lambda name: True)) == found


def test_scan_skips_an_unreadable_project_and_a_root_and_reads_the_rest(
    ledger: Ledger, isolated_home: Path, refuse: set[str]
) -> None:
    claude_log(isolated_home, "-Users-x-readable")
    hidden = claude_log(isolated_home, "-Users-x-hidden").parent
    sessions = isolated_home / ".codex" / "sessions"
    sessions.mkdir(parents=True)
    refuse.update({str(hidden), str(sessions)})
    result = scan(ledger, env=env_of(isolated_home), workers=1)
    assert result.skipped_dirs == [
        SkippedFile("claude-code", str(hidden), "permission denied"),
        SkippedFile("codex", str(sessions), "permission denied"),
    ]
    assert result.written == 1 and result.skipped == []


def test_scan_cli_reports_skipped_dirs_on_stderr_and_succeeds(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, refuse: set[str]
) -> None:
    claude_log(isolated_home, "-Users-x-readable")
    hidden = claude_log(isolated_home, "-Users-x-hidden").parent
    refuse.add(str(hidden))
    code, out, err = cli(capsys, "scan")
    assert code == 0
    assert f"llmledger: skipped directory {hidden} (claude-code): permission denied\n" in err
    assert "1 events written" in out and "1 directories skipped" in out
    code, out, err = cli(capsys, "scan", "--json")
    assert code == 0 and f"skipped directory {hidden}" in err
    assert json.loads(out)["skippedDirectories"] == [
        {"source": "claude-code", "path": str(hidden), "reason": "permission denied"}
    ]
    _, _, err = cli(capsys, "daily", "--json")
    assert "1 log directory could not be read (run 'llmledger scan' for the list)" in err


def test_sources_lists_skipped_dirs_in_table_and_json(
    capsys: pytest.CaptureFixture[str],
    isolated_home: Path,
    refuse: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    sessions = isolated_home / ".codex" / "sessions"
    sessions.mkdir(parents=True)
    refuse.add(str(sessions))
    code, out, _ = cli(capsys, "sources")
    assert code == 0
    assert any("~/.codex/sessions" in line and "skipped" in line for line in out.splitlines())
    assert "skipped ~/.codex/sessions (codex): permission denied" in out
    _, raw, _ = cli(capsys, "sources", "--json", "--no-scan")
    codex = next(s for s in json.loads(raw)["sources"] if s["source"] == "codex")
    assert codex["skipped"] == [
        {"path": str(sessions), "kind": "directory", "reason": "permission denied"}
    ]


def test_sources_lists_files_the_scan_could_not_read(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    db = isolated_home / ".local" / "share" / "opencode" / "opencode.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage" * 100)
    _, raw, err = cli(capsys, "sources", "--json")
    opencode = next(s for s in json.loads(raw)["sources"] if s["source"] == "opencode")
    assert [(s["path"], s["kind"]) for s in opencode["skipped"]] == [(str(db), "file")]
    assert "1 log file(s) could not be read" in err


# -- for real, as a user who may not read --------------------------------------------------------

# Run as root, then drop to ``uid``: the interpreter and the modules a scan needs are loaded
# first (a user may not read root's Python), by a scan of an empty home and one recorded event
# (the write path's modules, e.g. the host id's, load only when an event is written).
CHILD = textwrap.dedent(
    """
    import contextlib, io, os, sys, tempfile
    from llmledger.cli.main import main
    uid = int(sys.argv[1])
    if uid != os.geteuid():
        saved = dict(os.environ)
        with tempfile.TemporaryDirectory() as warm:
            os.environ.update(HOME=warm, LLMLEDGER_HOME=warm)
            with contextlib.redirect_stdout(io.StringIO()):
                with contextlib.redirect_stderr(io.StringIO()):
                    record = ["record", "--model", "gpt-4o", "--input", "1", "--output", "1"]
                    for argv in (["scan"], ["scan", "--json"], ["sources"], record, ["daily"]):
                        main(argv)
        os.environ.clear()
        os.environ.update(saved)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    sys.exit(main(sys.argv[2:]))
    """
)


def _user() -> int:
    """The uid to scan as: ours when we are not root, else nobody's."""
    if os.geteuid() != 0:
        return os.geteuid()
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("running as root and there is no 'nobody' user to scan as")


def test_scan_as_a_user_who_may_not_read() -> None:
    uid = _user()
    # Not under pytest's tmp_path: its parents are closed to other users.
    base = Path(tempfile.mkdtemp(prefix="llmledger-unreadable-"))
    home = base / "home"
    claude_log(home, "-Users-x-readable")
    hidden = claude_log(home, "-Users-x-hidden").parent
    sessions = home / ".codex" / "sessions"
    sessions.mkdir(parents=True)
    if os.geteuid() == 0:
        for path in [base, *base.rglob("*")]:
            os.chown(path, uid, uid)
    hidden.chmod(0)
    sessions.chmod(0)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "LLMLEDGER_HOME": str(base / "data"),
        "PYTHONPATH": str(REPO_SRC),
    }

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", CHILD, str(uid), *argv]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    try:
        scanned = run("scan", "--json")
        listed = run("sources", "--no-scan")
    finally:
        hidden.chmod(0o755)
        sessions.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
    assert scanned.returncode == 0, scanned.stderr
    data = json.loads(scanned.stdout)
    assert data["written"] == 1
    assert data["skippedDirectories"] == [
        {"source": "claude-code", "path": str(hidden), "reason": "permission denied"},
        {"source": "codex", "path": str(sessions), "reason": "permission denied"},
    ]
    warning = f"llmledger: skipped directory {hidden} (claude-code): permission denied"
    assert warning in scanned.stderr
    assert listed.returncode == 0, listed.stderr
    assert "skipped ~/.codex/sessions (codex): permission denied" in listed.stdout

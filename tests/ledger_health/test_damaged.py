"""A damaged ledger is called damaged (never "not an llmledger database"), every command says
so in one line with what to do, and nothing is written into it."""

from __future__ import annotations

import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from llmledger.errors import DamagedLedgerError
from llmledger.events import UsageEvent
from llmledger.store.sqlite import SQLiteStore

from .conftest import EVENTS, INPUT_TOKENS, Run, claude_log, damage, digest


@pytest.fixture
def damaged(ledger_path: Path, isolated_home: Path) -> Path:
    claude_log(isolated_home)  # so that scans have something to write
    damage(ledger_path)
    return ledger_path


def test_the_damage_is_in_the_events_and_the_rollup_is_intact(damaged: Path) -> None:
    conn = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        conn.execute("SELECT SUM(input_tokens) FROM events").fetchone()
    rollup = conn.execute("SELECT SUM(events), SUM(input_tokens) FROM rollup_hourly").fetchone()
    assert rollup == (EVENTS, INPUT_TOKENS)
    conn.close()


DAMAGED_COMMANDS = [
    ["export"],
    ["export", "--csv", "-o", "OUT"],
    ["sessions", "--no-scan"],
    ["blocks", "--no-scan"],
    ["daily", "--no-scan", "--group-by", "user"],
    ["record", "--model", "gpt-4o", "--input", "5"],
    ["scan"],
    ["daily"],  # scans first: the scan has a new log to write
    ["reprice"],
]


@pytest.mark.parametrize("argv", DAMAGED_COMMANDS, ids=" ".join)
def test_every_command_names_the_damage_and_writes_nothing(
    run: Run, damaged: Path, tmp_path: Path, argv: list[str]
) -> None:
    before = digest(damaged.parent)
    out = tmp_path / "events.csv"
    result = run(*[str(out) if a == "OUT" else a for a in argv], "--db", damaged)
    line = result.one_error_line
    assert result.code == 1
    assert f"the ledger at {damaged} is damaged (" in line
    assert "nothing was written" in line
    assert "llmledger db check" in line and "llmledger db backup FILE" in line
    assert "not an llmledger" not in line
    assert digest(damaged.parent) == before
    assert not out.exists()  # no half export left behind


def test_once_damage_is_seen_the_store_writes_nothing(damaged: Path) -> None:
    before = digest(damaged.parent)
    store = SQLiteStore(damaged, create=False)
    with pytest.raises(DamagedLedgerError):
        list(store.iter_events())
    with pytest.raises(DamagedLedgerError, match="nothing was written"):
        store.write_events([UsageEvent(model="gpt-4o", id="late", input_tokens=1)])
    store.close()
    assert digest(damaged.parent) == before


def test_a_fresh_store_walks_the_pages_before_its_first_write(damaged: Path) -> None:
    before = digest(damaged.parent)
    store = SQLiteStore(damaged)
    with pytest.raises(DamagedLedgerError):
        store.write_events([UsageEvent(model="gpt-4o", id="x", input_tokens=1)])
    store.close()
    assert digest(damaged.parent) == before


def test_a_cut_short_ledger_is_damaged_not_foreign(run: Run, ledger_path: Path) -> None:
    with open(ledger_path, "r+b") as file:
        file.truncate(ledger_path.stat().st_size // 2)
    for argv in (["daily", "--no-scan"], ["record", "--model", "m", "--input", "1"]):
        line = run(*argv, "--db", ledger_path).one_error_line
        assert "is damaged (the file is cut short" in line
        assert "not an llmledger" not in line


def test_only_a_file_that_is_not_a_ledger_is_called_one(run: Run, tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("shopping list\n" * 500)
    foreign = tmp_path / "app.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    for path, why in ((text, "not an SQLite file"), (foreign, "other tables: users")):
        before = path.read_bytes()
        for argv in (["daily", "--no-scan"], ["record", "--model", "m"], ["db", "check"]):
            result = run(*argv, "--db", path)
            line = result.one_error_line
            assert result.code == 1
            assert f"{path} is not an llmledger database" in line and why in line
        assert path.read_bytes() == before


def test_a_read_only_directory_is_not_a_foreign_file(
    run: Run, tmp_path: Path, freeze: Callable[[Path], None]
) -> None:
    keep = tmp_path / "locked" / "keep"
    keep.parent.mkdir()
    keep.write_text("")
    freeze(keep)
    result = run("record", "--model", "gpt-4o", "--input", "1", "--db", keep.parent / "l.db")
    line = result.one_error_line
    assert result.code == 1 and "cannot create the ledger at" in line
    assert "not an llmledger" not in line and "damaged" not in line


def _small_files() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16_384, 16_384))


def test_a_full_disk_at_open_is_said_as_such(tmp_path: Path) -> None:
    # The process may write no file past 16 KB: SQLite's writes fail as on a full disk.
    target = tmp_path / "full" / "ledger.db"
    argv = [sys.executable, "-m", "llmledger", "record", "--model", "gpt-4o", "--input", "5"]
    done = subprocess.run(
        [*argv, "--db", str(target)],
        preexec_fn=_small_files,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"the ledger at {target}" in line and "nothing was written" in line
    assert "I/O error" in line or "is full" in line
    assert "not an llmledger" not in line and "damaged" not in line

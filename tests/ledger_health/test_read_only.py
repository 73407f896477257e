"""A ledger that cannot be written (file 444 in a 555 directory, or immutable for root) is read:
reports, export and backups work; writes are refused in one line, saying nothing was written."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from .conftest import EVENTS, INPUT_TOKENS, Run, claude_log, digest

Freeze = Callable[[Path], None]


def test_reports_read_a_read_only_ledger(
    run: Run, ledger_path: Path, freeze: Freeze, tmp_path: Path
) -> None:
    before = run("daily", "--no-scan", "--json", "--db", ledger_path).json()
    freeze(ledger_path)
    files = digest(ledger_path.parent)
    daily = run("daily", "--no-scan", "--json", "--db", ledger_path)
    assert daily.code == 0, daily.err
    assert daily.json() == before and before["totals"]["inputTokens"] == INPUT_TOKENS
    for argv in (["sessions", "--no-scan"], ["blocks", "--no-scan"], ["models", "--no-scan"]):
        result = run(*argv, "--db", ledger_path)
        assert result.code == 0 and result.err == "", result.err
    exported = run("export", "--db", ledger_path)
    assert exported.code == 0 and len(exported.out.splitlines()) == EVENTS
    assert digest(ledger_path.parent) == files


def test_a_report_that_scans_first_shows_the_ledger_as_it_is(
    run: Run, ledger_path: Path, freeze: Freeze, isolated_home: Path
) -> None:
    claude_log(isolated_home)
    freeze(ledger_path)
    result = run("daily", "--json", "--db", ledger_path)
    assert result.code == 0
    assert result.json()["totals"]["inputTokens"] == INPUT_TOKENS  # nothing imported
    assert "read-only" in result.err and "without importing" in result.err


def test_writes_to_a_read_only_ledger_are_refused_in_one_line(
    run: Run, ledger_path: Path, freeze: Freeze, isolated_home: Path
) -> None:
    claude_log(isolated_home)
    freeze(ledger_path)
    files = digest(ledger_path.parent)
    for argv in (["record", "--model", "gpt-4o", "--input", "5"], ["scan"]):
        result = run(*argv, "--db", ledger_path)
        line = result.one_error_line
        assert result.code == 1
        assert f"the ledger at {ledger_path} is read-only" in line
        assert "nothing was written" in line
        assert "not an llmledger" not in line
    assert digest(ledger_path.parent) == files


def test_a_read_only_ledger_with_pending_migrations_says_so(
    run: Run, ledger_path: Path, freeze: Freeze
) -> None:
    conn = sqlite3.connect(ledger_path)
    conn.execute("DELETE FROM _llmledger_migrations WHERE name = '0003_gateway_keys'")
    conn.commit()
    conn.close()
    freeze(ledger_path)
    result = run("daily", "--no-scan", "--db", ledger_path)
    line = result.one_error_line
    assert result.code == 1
    assert "needs upgrading" in line and "0003_gateway_keys" in line and "read-only" in line
    assert "not an llmledger" not in line
    check = run("db", "check", "--db", ledger_path)
    assert check.code == 1 and "pending: 0003_gateway_keys" in check.out


def test_backup_and_check_work_on_a_read_only_ledger(
    run: Run, ledger_path: Path, freeze: Freeze, tmp_path: Path
) -> None:
    freeze(ledger_path)
    check = run("db", "check", "--db", ledger_path)
    assert check.code == 0 and check.out.rstrip().endswith("healthy")
    copy = tmp_path / "copy.db"
    backup = run("db", "backup", copy, "--db", ledger_path)
    assert backup.code == 0, backup.err
    assert backup.out.startswith(f"backed up {ledger_path} to {copy}: {EVENTS:,} events")
    copied = run("daily", "--no-scan", "--json", "--db", copy).json()
    assert copied["totals"]["inputTokens"] == INPUT_TOKENS

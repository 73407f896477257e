"""A command that only reads never creates a ledger: a path with no ledger is said, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Run

READ_ONLY = [
    ["daily", "--no-scan"],
    ["weekly", "--no-scan"],
    ["monthly", "--no-scan"],
    ["models", "--no-scan"],
    ["sessions", "--no-scan"],
    ["blocks", "--no-scan"],
    ["sources", "--no-scan"],
    ["daily", "--no-scan", "--json"],
    ["export"],
    ["export", "--csv", "-o", "OUT"],
    ["db", "check"],
    ["db", "backup", "OUT"],
    ["db", "repair"],
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_ledger(
    run: Run, tmp_path: Path, argv: list[str]
) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "x.db"
    argv = [str(tmp_path / "out.file") if a == "OUT" else a for a in argv]
    result = run(*argv, "--db", missing)
    line = result.one_error_line
    assert result.code == 1 and result.out == ""
    assert f"there is no ledger at {missing} yet" in line
    assert "llmledger scan" in line and "llmledger record" in line
    assert not (tmp_path / "no").exists()
    assert not (tmp_path / "out.file").exists()


def test_an_empty_file_is_no_ledger_either(run: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run("daily", "--no-scan", "--db", empty)
    assert result.code == 1 and "no ledger" in result.one_error_line
    assert "the file is empty" in result.err
    assert empty.stat().st_size == 0


def test_prices_does_not_open_the_ledger(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "x.db"
    assert run("prices", "gpt-4o", "--db", missing).code == 0
    assert run("prices", "sonnet", "--db", missing).code == 0
    assert not (tmp_path / "no").exists()


def test_writing_commands_create_it(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "x.db"
    assert run("record", "--model", "gpt-4o", "--input", "5", "--db", target).code == 0
    assert target.is_file()
    other = tmp_path / "other" / "y.db"
    assert run("scan", "--db", other).code == 0
    assert other.is_file()
    bare = tmp_path / "bare" / "z.db"
    assert run("--db", bare).code == 0  # bare llmledger: scan, then the daily report
    assert bare.is_file()


def test_the_default_ledger_before_any_use_reads_as_empty(
    run: Run, isolated_home: Path, tmp_path: Path
) -> None:
    # No --db, LLMLEDGER_DB or config: a first `--no-scan` report is empty, not an error,
    # says on stderr that there is no ledger yet, and still creates nothing.
    result = run("daily", "--no-scan", "--json")
    assert result.code == 0
    assert result.json()["daily"] == []
    assert "no ledger" in result.err
    assert not (tmp_path / "llmledger-home" / "ledger.db").exists()


def test_a_named_ledger_that_is_missing_is_an_error_even_from_the_environment(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMLEDGER_DB", str(tmp_path / "typo" / "ledger.db"))
    result = run("models", "--no-scan")
    assert result.code == 1 and "no ledger" in result.one_error_line
    assert not (tmp_path / "typo").exists()

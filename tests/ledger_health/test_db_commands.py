"""``db check``, ``db backup`` and ``db repair`` on sound, damaged and inconsistent ledgers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .conftest import EVENTS, INPUT_TOKENS, Run, damage, digest


def test_check_a_healthy_ledger(run: Run, ledger_path: Path) -> None:
    with sqlite3.connect(ledger_path) as conn:  # what a fresh ledger applied: the count said
        applied = conn.execute("SELECT name FROM _llmledger_migrations").fetchall()
    assert len(applied) >= 3
    result = run("db", "check", "--db", ledger_path)
    assert result.code == 0, result.out
    assert result.out.splitlines() == [
        f"ledger {ledger_path}: {EVENTS:,} events, {ledger_path.stat().st_size / 1e6:,.1f} MB",
        "integrity: ok",
        f"migrations: current ({len(applied)} applied)",
        "rollup: matches the events",
        "healthy",
    ]
    data = run("db", "check", "--json", "--db", ledger_path).json()
    assert data["healthy"] is True and data["events"] == EVENTS
    assert data["integrity"] == {"ok": True, "problems": []}
    assert data["rollup"]["ok"] is True and data["next"] == []


def test_check_names_damage_and_what_to_do(run: Run, ledger_path: Path) -> None:
    damage(ledger_path)
    before = digest(ledger_path.parent)
    result = run("db", "check", "--db", ledger_path)
    assert result.code == 1
    assert "integrity: DAMAGED: " in result.out
    assert "rollup: not compared" in result.out
    assert f"llmledger db backup FILE --db {ledger_path}" in result.out
    assert f"sqlite3 {ledger_path} .recover | sqlite3 NEW.db" in result.out
    data = run("db", "check", "--json", "--db", ledger_path).json()
    assert (data["healthy"], data["integrity"]["ok"]) == (False, False)
    assert f"integrity: DAMAGED: {data['integrity']['problems'][0]}" in result.out  # same words
    assert digest(ledger_path.parent) == before


def _spoil_rollup(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE rollup_hourly SET events = events + 2, input_tokens = input_tokens + 7 "
        "WHERE hour = (SELECT MIN(hour) FROM rollup_hourly)"
    )
    conn.execute("DELETE FROM rollup_hourly WHERE hour = (SELECT MAX(hour) FROM rollup_hourly)")
    conn.commit()
    conn.close()


def test_a_rollup_that_disagrees_with_intact_events_is_repaired(
    run: Run, ledger_path: Path
) -> None:
    _spoil_rollup(ledger_path)
    spoiled = run("daily", "--no-scan", "--json", "--db", ledger_path).json()
    assert spoiled["totals"]["inputTokens"] != INPUT_TOKENS
    check = run("db", "check", "--db", ledger_path)
    assert check.code == 1
    assert "rollup: differs from the events in 2 hour row(s)" in check.out
    assert (
        "  2025-08-01 00:00 UTC gpt-4o (claude-code): rollup 7 events, 2,237 tokens; "
        "events table 5 events, 2,230 tokens\n"
    ) in check.out
    assert "23:00 UTC gpt-4o (claude-code): rollup no row; events table 4 events" in check.out
    assert f"llmledger db repair --db {ledger_path}" in check.out
    data = run("db", "check", "--json", "--db", ledger_path).json()
    assert data["rollup"]["differences"] == 2 and not data["healthy"]
    repair = run("db", "repair", "--db", ledger_path)
    assert repair.code == 0, repair.err
    assert repair.out.strip() == (
        f"rebuilt the hourly rollup of {ledger_path} from its {EVENTS:,} events; "
        "2 hour row(s) differed"
    )
    assert run("db", "check", "--db", ledger_path).code == 0
    daily = run("daily", "--no-scan", "--json", "--db", ledger_path).json()
    assert daily["totals"]["inputTokens"] == INPUT_TOKENS
    again = run("db", "repair", "--db", ledger_path)
    assert again.out.startswith("nothing to repair")


def test_repair_refuses_a_damaged_ledger(run: Run, ledger_path: Path) -> None:
    damage(ledger_path)
    before = digest(ledger_path.parent)
    result = run("db", "repair", "--db", ledger_path)
    assert result.code == 1 and "is damaged" in result.one_error_line
    assert "rebuilds the rollup only" in result.err
    assert digest(ledger_path.parent) == before


def test_pending_migrations_are_reported(run: Run, ledger_path: Path) -> None:
    conn = sqlite3.connect(ledger_path)
    conn.execute("DELETE FROM _llmledger_migrations WHERE name = '0003_gateway_keys'")
    conn.commit()
    conn.close()
    result = run("db", "check", "--json", "--db", ledger_path)
    assert result.code == 1
    data = result.json()
    assert data["migrations"]["pending"] == ["0003_gateway_keys"]
    assert any("pending migrations" in step for step in data["next"])


def test_backup_copies_and_refuses_to_overwrite(
    run: Run, ledger_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "backups" / "copy.db"
    copy.parent.mkdir()
    result = run("db", "backup", copy, "--db", ledger_path)
    assert result.code == 0, result.err
    assert result.out.startswith(f"backed up {ledger_path} to {copy}: {EVENTS:,} events, ")
    assert run("db", "check", "--db", copy).code == 0
    copy.write_bytes(b"an older copy")
    refused = run("db", "backup", copy, "--db", ledger_path)
    assert refused.code == 1 and "exists; pass --force" in refused.one_error_line
    assert copy.read_bytes() == b"an older copy"
    assert run("db", "backup", copy, "--force", "--db", ledger_path).code == 0
    assert run("export", "--db", copy).out.count("\n") == EVENTS
    itself = run("db", "backup", ledger_path, "--force", "--db", ledger_path)
    assert itself.code == 1 and "is the ledger itself" in itself.one_error_line
    nowhere = run("db", "backup", tmp_path / "no" / "dir" / "x.db", "--db", ledger_path)
    assert nowhere.code == 1 and "does not exist" in nowhere.one_error_line
    assert [p.name for p in copy.parent.iterdir()] == ["copy.db"]  # no temporary left


def test_backup_of_a_damaged_ledger_keeps_its_pages(
    run: Run, ledger_path: Path, tmp_path: Path
) -> None:
    damage(ledger_path)
    copy = tmp_path / "copy.db"
    result = run("db", "backup", copy, "--db", ledger_path)
    assert result.code == 0, result.err
    assert copy.stat().st_size == ledger_path.stat().st_size
    checked = json.loads(run("db", "check", "--json", "--db", copy).out)
    assert checked["integrity"]["ok"] is False  # the damage is copied, to be recovered later


def test_db_needs_an_action(run: Run) -> None:
    result = run("db")
    assert result.code == 2 and "check, backup, repair" in result.one_error_line

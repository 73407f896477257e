"""``db check`` compares the quota counters with the events and finds reservations left
behind; ``db repair`` recounts and drops them. Real SQLite files, the real CLI."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from llmledger.cli.main import main
from llmledger.config import parse_config
from llmledger.ledger import Ledger
from llmledger.pricing.book import PriceBook
from llmledger.quota.service import QuotaBook

NOW = datetime.now(timezone.utc)


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    """A ledger whose quotas are in use: u1 used 1,500 tokens in two events this month."""
    path = tmp_path / "ledger.db"
    with Ledger(path, config=parse_config({}), prices=PriceBook(), env={}) as ledger:
        book = QuotaBook(ledger)
        book.record_tokens("u1", 1_000, event_id="e1")
        book.record_tokens("u1", 500, event_id="e2")
    return path


def _db(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["db", *argv])
    return code, capsys.readouterr().out


def test_counters_that_match_the_events_are_healthy(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _db(capsys, "check", "--db", str(ledger_file))
    assert code == 0, out
    assert "quota counters: match the events\nreservations: none stale\nhealthy" in out
    code, out = _db(capsys, "check", "--json", "--db", str(ledger_file))
    assert json.loads(out)["quotas"] == {
        "counted": True,
        "ok": True,
        "counterDifferences": 0,
        "examples": [],
        "expiredReservations": 0,
        "settledReservations": 0,
    }


def test_spoiled_counters_and_stale_holds_are_found_and_repaired(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    month = NOW.strftime("%Y-%m")
    with sqlite3.connect(ledger_file) as conn:
        conn.execute(
            "UPDATE quota_counters SET io_tokens = io_tokens + 7 "
            "WHERE subject = 'user:u1' AND period = ?",
            (f"m:{month}",),
        )
        holds = [
            ("crashed", "user:u1", 4_000, 0, _us(NOW - timedelta(minutes=1))),  # expired
            ("e1", "user:u1", 2_000, 0, _us(NOW + timedelta(minutes=9))),  # event recorded
            ("in-flight", "user:u1", 3_000, 0, _us(NOW + timedelta(minutes=9))),  # fine
        ]
        conn.executemany("INSERT INTO quota_holds VALUES (?, ?, ?, ?, ?)", holds)
    code, out = _db(capsys, "check", "--db", str(ledger_file))
    assert code == 1
    assert (
        "quota counters: differ from the events in 1 row(s)\n"
        f"  user:u1 {month}: counter 2 events, 1,507 tokens; events table 2 events, "
        "1,500 tokens\n"
        "reservations: 1 expired, 1 of requests already recorded\n"
    ) in out
    assert f"llmledger db repair --db {ledger_file}" in out
    report = json.loads(_db(capsys, "check", "--json", "--db", str(ledger_file))[1])
    assert report["healthy"] is False
    assert (report["quotas"]["counterDifferences"], report["quotas"]["ok"]) == (1, False)

    code, out = _db(capsys, "repair", "--db", str(ledger_file))
    assert code == 0, out
    assert out.strip() == (
        f"recounted the quota counters of {ledger_file} (1 row(s) differed) "
        "and deleted 2 stale reservation(s)"
    )
    code, out = _db(capsys, "check", "--db", str(ledger_file))
    assert code == 0, out
    with sqlite3.connect(ledger_file) as conn:
        left = conn.execute("SELECT request_id FROM quota_holds").fetchall()
        month_row = conn.execute(
            "SELECT io_tokens FROM quota_counters WHERE subject = 'user:u1' AND period = ?",
            (f"m:{month}",),
        ).fetchone()
    assert left == [("in-flight",)] and month_row == (1_500,)
    assert _db(capsys, "repair", "--db", str(ledger_file))[1].startswith("nothing to repair")


def test_a_ledger_that_never_used_quotas_has_no_quota_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain.db"
    with Ledger(path, config=parse_config({}), prices=PriceBook(), env={}) as ledger:
        ledger.record(model="gpt-4o", input_tokens=10, user_id="u1")
    code, out = _db(capsys, "check", "--db", str(path))
    assert code == 0 and "quota" not in out and "reservations" not in out
    assert (
        json.loads(_db(capsys, "check", "--json", "--db", str(path))[1])["quotas"]["counted"]
        is False
    )

"""``db migrate``, ``db copy`` (SQLite <-> PostgreSQL, resumable, verified per month), ``db
check`` and ``db repair`` on a PostgreSQL ledger, run as a user runs them."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from llmledger.bookkeeping import KeyRecord, ScanCursor
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.pricing.book import PriceBook
from llmledger.quota.records import Budget, Grant
from llmledger.store import open_store
from llmledger.store.migrations import MIGRATIONS
from llmledger.store.transfer import copy_ledger

from .conftest import run_cli

T0 = datetime(2026, 2, 20, 8, 30, tzinfo=timezone.utc)


def sample(n: int) -> list[UsageEvent]:
    return [
        UsageEvent(
            model=("gpt-4o", "claude-sonnet-4-5", "house-model")[i % 3],
            ts=T0 + timedelta(hours=3 * i),
            id=f"ev{i}",
            source=("codex", "proxy")[i % 2],
            input_tokens=100 + i,
            output_tokens=7 * i,
            cache_read_tokens=i % 50,
            user_id=("ana", "bo", None)[i % 3],
        )
        for i in range(n)
    ]


def fill(url: str, n: int = 900) -> None:
    """Events over five months, priced and not, and the bookkeeping a ledger keeps."""
    with Ledger(url, prices=PriceBook()) as ledger:
        ledger.record_many(sample(n))
        store = ledger.store
        store.write_scan([], [ScanCursor("/logs/a.jsonl", "codex", 1, 2, 300, 5, 300, None, 9, 0)])
        store.add_key(KeyRecord(id="key_1", key_hash="h" * 64, prefix="llk_ab", user_id="ana"))
        store.assign_plan("user:ana", "pro", T0)
        store.add_grant(Grant(id="g1", units=5_000, granted_at=T0, subject="user:ana"))
        store.add_budget(Budget(id="b1", scope="user", scope_id="bo", window="month", tokens=10**6))


def report(url: str) -> str:
    result = run_cli(
        "monthly", "--json", "--no-scan", "--offline", "--since", "2026-01-01", "--db", url
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_migrate_creates_then_says_current(pg_url: str) -> None:
    first = run_cli("db", "migrate", "--db", pg_url, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["applied"][:2] == ["0001_events", "0003_gateway_keys"]
    again = run_cli("db", "migrate", "--db", pg_url)
    assert again.returncode == 0
    assert again.stdout.endswith(f"is current ({len(MIGRATIONS)} migrations)\n")


def test_copy_there_and_back_keeps_everything(pg_url: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'laptop.db'}"
    back = f"sqlite:///{tmp_path / 'back.db'}"
    fill(source)
    there = run_cli("db", "copy", "--from", source, "--to", pg_url)
    assert there.returncode == 0, there.stderr
    assert there.stdout.splitlines() == [
        "copied 900 events, 900 written; 1 scan cursors, 1 gateway keys, 1 plans, 1 add-ons, "
        "1 budgets",
        "verified: 5 month(s), 900 events, sums equal",
    ]
    home = run_cli("db", "copy", "--from", pg_url, "--to", back, "--json")
    assert home.returncode == 0, home.stderr
    data = json.loads(home.stdout)
    assert (data["verified"], data["written"]) == (True, 900)
    per_month = Counter(e.ts.strftime("%Y-%m") for e in sample(900))
    assert data["months"] == {m: {"from": n, "to": n} for m, n in sorted(per_month.items())}
    assert report(source) == report(pg_url) == report(back)
    for url in (pg_url, back):
        store = open_store(url)
        assert store.get_key("key_1") is not None
        assert list(store.scan_cursors()) == ["/logs/a.jsonl"]
        plans, grants, budgets = store.read_quotas(
            lambda r: (r.assigned_plans(), r.grants(), r.budgets())
        )
        assert plans == {"user:ana": "pro"}
        assert [g.id for g in grants] == ["g1"] and [b.id for b in budgets] == ["b1"]
        store.close()


def test_an_interrupted_copy_resumes_and_counts_once(pg_url: str, tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'laptop.db'}"
    fill(source_url)
    source, target = open_store(source_url), open_store(pg_url)

    def stop_after_two_batches(read: int) -> None:
        if read >= 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_ledger(source, target, batch=100, progress=stop_after_two_batches)
    assert target.count() == 200
    result = copy_ledger(source, target, batch=100)
    assert result.resumed_from is not None and result.read < 900
    assert result.verified and target.count() == 900
    # The source gains events older than the last one copied (a scan of old logs): the next
    # copy reads it all again, so they are not skipped.
    source.close()
    with Ledger(source_url) as laptop:
        laptop.record(model="gpt-4o", input_tokens=3, ts=T0 - timedelta(days=30), id="old")
    source = open_store(source_url)
    again = copy_ledger(source, target, batch=100)
    assert again.resumed_from is None and (again.read, again.copied) == (901, 1)
    assert again.verified and target.get_event("old") is not None
    source.close()
    target.close()


def test_a_copy_into_a_ledger_with_other_events_is_not_verified(
    pg_url: str, tmp_path: Path
) -> None:
    source = f"sqlite:///{tmp_path / 'laptop.db'}"
    fill(source, n=30)
    with Ledger(pg_url) as other:
        other.record(model="gpt-4o", input_tokens=5, ts=T0, id="elsewhere")
    result = run_cli("db", "copy", "--from", source, "--to", pg_url)
    assert result.returncode == 1
    assert result.stdout.splitlines()[1:] == [
        "NOT verified: these months differ (events from / to):",
        "  2026-02: 30 / 31",  # the 30 copied events are all in February
        "the target held other events before, or a write failed: see `db check`",
    ]


def test_check_finds_a_rollup_that_differs_and_repair_fixes_it(pg_url: str) -> None:
    fill(pg_url, n=40)
    healthy = run_cli("db", "check", "--db", pg_url)
    assert healthy.returncode == 0, healthy.stderr
    lines = healthy.stdout.splitlines()
    assert lines[0].startswith(f"ledger {pg_url}: 40 events, ")
    assert lines[1:] == [
        "integrity: ok",
        f"migrations: current ({len(MIGRATIONS)} applied)",
        "rollup: matches the events",
        "healthy",
    ]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE rollup_hourly SET input_tokens = input_tokens + 1 "
            "WHERE hour = (SELECT MIN(hour) FROM rollup_hourly)"
        )
    broken = run_cli("db", "check", "--db", pg_url, "--json")
    assert broken.returncode == 1
    data = json.loads(broken.stdout)
    assert data["rollup"]["differences"] == 1
    assert data["next"] == [
        "the events are intact; rebuild the hourly rollup reports read from them: "
        f"`llmledger db repair --db {pg_url}`"
    ]
    repaired = run_cli("db", "repair", "--db", pg_url)
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout == f"rebuilt the hourly rollup of {pg_url} from its 40 events\n"
    assert run_cli("db", "check", "--db", pg_url).returncode == 0


def test_check_finds_an_event_without_its_id(pg_url: str) -> None:
    fill(pg_url, n=10)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM event_ids WHERE id = 'ev3'")
    result = run_cli("db", "check", "--db", pg_url)
    assert result.returncode == 1
    assert "integrity: DAMAGED: 1 event row(s) are not in event_ids" in result.stdout.splitlines()


def test_db_commands_on_an_unreachable_server_are_one_line() -> None:
    for argv in (["db", "check"], ["db", "migrate"]):
        result = run_cli(*argv, "--db", "postgresql://postgres@127.0.0.1:9/test")
        assert result.returncode != 0
        assert result.stderr.splitlines() == [
            "llmledger: error: cannot reach the PostgreSQL server at 127.0.0.1:9 "
            "(Connection refused); is it running and is --db "
            "postgresql://postgres@127.0.0.1:9/test right?"
        ]


def test_check_compares_quota_counters_and_repair_recounts_them(pg_url: str) -> None:
    """As on SQLite (tests/quota/test_db_check.py): a spoiled counter and reservations left
    behind are found, and db repair recounts and drops them."""
    from datetime import datetime as moment

    from llmledger.config import parse_config
    from llmledger.quota.service import QuotaBook

    now = moment.now(timezone.utc)
    with Ledger(pg_url, config=parse_config({}), prices=PriceBook(), env={}) as ledger:
        book = QuotaBook(ledger)
        book.record_tokens("u1", 1_000, event_id="e1")
        book.record_tokens("u1", 500, event_id="e2")
    healthy = run_cli("db", "check", "--db", pg_url)
    assert healthy.returncode == 0, healthy.stdout
    assert "quota counters: match the events\nreservations: none stale\nhealthy" in healthy.stdout
    month = now.strftime("%Y-%m")

    def us(at: moment) -> int:
        return int(at.timestamp() * 1_000_000)

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE quota_counters SET io_tokens = io_tokens + 7 "
            "WHERE subject = 'user:u1' AND period = %s",
            (f"m:{month}",),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO quota_holds VALUES (%s, %s, %s, %s, %s)",
                [
                    ("crashed", "user:u1", 4_000, 0, us(now - timedelta(minutes=1))),
                    ("e1", "user:u1", 2_000, 0, us(now + timedelta(minutes=9))),
                    ("in-flight", "user:u1", 3_000, 0, us(now + timedelta(minutes=9))),
                ],
            )
    broken = run_cli("db", "check", "--db", pg_url)
    assert broken.returncode == 1
    assert (
        "quota counters: differ from the events in 1 row(s)\n"
        f"  user:u1 {month}: counter 2 events, 1,507 tokens; events table 2 events, "
        "1,500 tokens\n"
        "reservations: 1 expired, 1 of requests already recorded\n"
    ) in broken.stdout
    assert (
        "recount the quota counters from the events and drop stale reservations: "
        f"`llmledger db repair --db {pg_url}`"
    ) in broken.stdout
    repaired = run_cli("db", "repair", "--db", pg_url)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert repaired.stdout == (
        "recounted the quota counters (1 row(s) differed) and deleted 2 stale reservation(s)\n"
    )
    again = run_cli("db", "check", "--db", pg_url)
    assert again.returncode == 0, again.stdout
    with psycopg.connect(pg_url) as conn:
        left = conn.execute("SELECT request_id FROM quota_holds").fetchall()
    assert left == [("in-flight",)]

"""The PostgreSQL write paths: a batch of new ids takes the fast path (a plain claim), one with
a stored id falls back to the merging path in the same transaction; binary COPY refuses a
field of the wrong type with the event's id, and writes nothing of the batch."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from llmledger import Ledger, PriceBook, UsageEvent
from llmledger.errors import InvalidEventError
from tests.ledger_sql import fetch_sql

T0 = datetime(2025, 5, 1, tzinfo=timezone.utc)


def _events(start: int, count: int, tokens: int = 10) -> list[UsageEvent]:
    return [
        UsageEvent(
            id=f"w{n}",
            ts=T0 + timedelta(minutes=n),
            model="gpt-4o",
            input_tokens=tokens,
            user_id=f"user-{n % 3}",
        )
        for n in range(start, start + count)
    ]


def _sums(ledger: Ledger, table: str) -> tuple[object, ...]:
    return fetch_sql(ledger, f"SELECT SUM(events), SUM(input_tokens) FROM {table}")[0]


def test_a_batch_with_one_stored_id_merges_the_rest(pg_url: str) -> None:
    with Ledger(pg_url, prices=PriceBook(), env={}) as ledger:
        assert ledger.record_many(_events(0, 100)) == 100
        # 1 stored id (larger copy: replaces), 99 new ones: all in one batch.
        mixed = _events(99, 100, tokens=10)
        mixed[0].input_tokens = 50
        assert ledger.record_many(mixed) == 100
        assert ledger.count() == 199
        expected = (199, 198 * 10 + 50)
        for table in ("rollup_hourly", "rollup_hourly_users"):
            assert tuple(int(v) for v in _sums(ledger, table)) == expected  # type: ignore[call-overload]
        assert fetch_sql(ledger, "SELECT COUNT(*) FROM event_ids") == [(199,)]


def test_an_event_field_of_the_wrong_type_writes_nothing(pg_url: str) -> None:
    """A number where text belongs is refused, naming the event; nothing of the batch stays,
    and the ledger takes the corrected batch afterwards."""
    batch = _events(0, 50)
    batch[30].user_id = 12345  # type: ignore[assignment]
    with Ledger(pg_url, prices=PriceBook(), env={}) as ledger:
        with pytest.raises(InvalidEventError, match="w30"):
            ledger.record_many(batch)
        assert ledger.count() == 0
        assert fetch_sql(ledger, "SELECT COUNT(*) FROM event_ids") == [(0,)]
        assert fetch_sql(ledger, "SELECT COUNT(*) FROM rollup_hourly_users") == [(0,)]
        batch[30].user_id = "user-0"
        assert ledger.record_many(batch) == 50


def test_db_check_finds_a_user_rollup_row_that_drifted_and_repair_mends_it(pg_url: str) -> None:
    import json

    import psycopg

    from tests.postgres.conftest import run_cli

    with Ledger(pg_url, prices=PriceBook(), env={}) as ledger:
        ledger.record_many(_events(0, 30))
    assert run_cli("db", "check", "--db", pg_url).returncode == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE rollup_hourly_users SET output_tokens = output_tokens + 5 "
            "WHERE user_id = 'user-1' AND hour = (SELECT MIN(hour) FROM rollup_hourly_users)"
        )
    broken = run_cli("db", "check", "--db", pg_url, "--json")
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["rollup"]["differences"] == 1
    repaired = run_cli("db", "repair", "--db", pg_url)
    assert repaired.returncode == 0, repaired.stderr
    assert run_cli("db", "check", "--db", pg_url).returncode == 0
    with Ledger(pg_url, prices=PriceBook(), env={}) as ledger:
        assert _sums(ledger, "rollup_hourly_users") == _sums(ledger, "rollup_hourly")

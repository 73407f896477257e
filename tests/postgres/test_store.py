"""The PostgreSQL store's own promises: migrations once under concurrent starts, partitions
by month made on demand, idempotent concurrent writes with an exact rollup, and one clear line
for each way a server can be out of reach."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from llmledger.errors import NoLedgerError, ReadOnlyLedgerError, StoreError
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.query import EventFilter
from llmledger.store import open_store
from llmledger.store import postgres_schema as schema
from llmledger.store.migrations import MIGRATIONS as SQLITE_MIGRATIONS
from llmledger.store.postgres import PostgresStore

from .conftest import run_cli

T0 = datetime(2026, 1, 30, 23, 0, tzinfo=timezone.utc)


def events(prefix: str, n: int, *, step: timedelta = timedelta(hours=7)) -> list[UsageEvent]:
    return [
        UsageEvent(
            model=f"m{i % 3}",
            ts=T0 + i * step,
            id=f"{prefix}{i}",
            input_tokens=i + 1,
            output_tokens=2 * i,
            cost_nanos=1_000_003 * i,
            cost_status="computed",
            user_id=f"u{i % 4}" if i % 5 else None,
        )
        for i in range(n)
    ]


def rollup_equals_events(store: PostgresStore) -> None:
    with psycopg.connect(store.url) as conn:
        rows = conn.execute(
            "SELECT hour, model, source, provider, cost_status, input_tokens, output_tokens, "
            "cost_nanos, requests, events FROM rollup_hourly WHERE events != 0 ORDER BY 1, 2, 3"
        ).fetchall()
        expected = conn.execute(
            "SELECT ts / 3600000000, model, source, COALESCE(provider, ''), cost_status, "
            "SUM(input_tokens), SUM(output_tokens), SUM(COALESCE(cost_nanos, 0)), "
            "SUM(requests), COUNT(*) FROM events GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3"
        ).fetchall()
    assert rows == expected


def test_every_sqlite_migration_has_its_postgresql_twin() -> None:
    """Both backends record the same migration names: a new SQLite migration needs its
    PostgreSQL version in store/postgres_schema.py."""
    ours = [name for name, _ in schema.MIGRATIONS]
    missing = [name for name, _ in SQLITE_MIGRATIONS if name not in ours]
    assert missing == [], (
        "add the PostgreSQL version of each new SQLite migration to the end of "
        "store/postgres_schema.py MIGRATIONS, with the same name (an empty list when there is "
        "nothing to do there)"
    )
    assert ours == [name for name, _ in SQLITE_MIGRATIONS]


def _open(url: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait()
    open_store(url).close()


def test_two_processes_starting_at_once_migrate_once(pg_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    workers = [ctx.Process(target=_open, args=(pg_url, barrier)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    store = open_store(pg_url)
    assert store.applied_migrations() == sorted(name for name, _ in schema.MIGRATIONS)
    store.close()


def test_months_get_partitions_on_demand_and_old_ones_detach(pg_url: str) -> None:
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    batch = events("p", 20, step=timedelta(days=5))  # 2026-01-30 .. 2026-04-04
    assert store.write_events(batch) == 20
    with psycopg.connect(pg_url, autocommit=True) as conn:
        names = schema.existing_partitions(conn)
        assert {"events_2026_01", "events_2026_02", "events_2026_03", "events_2026_04"} <= names
        conn.execute("ALTER TABLE events DETACH PARTITION events_2026_01")
    assert store.count(EventFilter()) == 20  # the rollup keeps the detached month's sums
    assert len(list(store.iter_events())) == 19  # its rows are out of the events table
    store.close()


def test_concurrent_writers_store_each_id_once_with_exact_sums(pg_url: str) -> None:
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    batch = events("c", 600, step=timedelta(minutes=37))
    errors: list[BaseException] = []

    def write(part: list[UsageEvent]) -> None:
        try:
            other = open_store(pg_url)
            for start in range(0, len(part), 50):
                other.write_events(part[start : start + 50])
            other.close()
        except BaseException as exc:
            errors.append(exc)

    # Four writers, each sending an overlapping half of the events in a different order.
    parts = [batch[:400], batch[200:], list(reversed(batch[100:500])), batch[::2]]
    threads = [threading.Thread(target=write, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert store.count() == 600
    (row,) = store.aggregate(EventFilter(), [])
    assert row.totals.input_tokens == sum(e.input_tokens for e in batch)
    assert row.totals.cost_nanos == sum(e.cost_nanos or 0 for e in batch)
    rollup_equals_events(store)
    store.close()


def test_a_larger_copy_replaces_the_stored_one_across_months(pg_url: str) -> None:
    store = open_store(pg_url)
    first = UsageEvent(model="m", ts=T0, id="x", output_tokens=5)
    later = UsageEvent(model="m", ts=T0 + timedelta(days=40), id="x", output_tokens=9)
    assert store.write_events([first]) == 1
    assert store.write_events([later]) == 1
    stored = store.get_event("x")
    assert stored == later
    assert store.count() == 1
    assert isinstance(store, PostgresStore)
    rollup_equals_events(store)
    store.close()


def test_costs_are_exact_integers_beyond_float_precision(pg_url: str) -> None:
    store = open_store(pg_url)
    big = 2**53 + 1  # a float would round this
    store.write_events(
        [
            UsageEvent(model="m", ts=T0, id=f"b{i}", cost_nanos=big, cost_status="computed")
            for i in range(3)
        ]
    )
    (row,) = store.aggregate(EventFilter(), ["model"])
    assert row.totals.cost_nanos == 3 * big
    store.close()


def test_an_unreachable_server_is_one_line() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://postgres@127.0.0.1:9/test")
    assert str(caught.value) == (
        "cannot reach the PostgreSQL server at 127.0.0.1:9 (Connection refused); is it "
        "running and is --db postgresql://postgres@127.0.0.1:9/test right?"
    )


def test_refused_credentials_and_a_missing_database_are_one_line(pg_url: str) -> None:
    server = pg_url.split("?")[0]
    with pytest.raises(StoreError) as caught:
        open_store(server.replace("postgres@", "nobody:secret@"))
    message = str(caught.value)
    assert message.startswith('PostgreSQL at 127.0.0.1:5432 refused the credentials (role "nobody"')
    assert "secret" not in message  # the password is never shown
    with pytest.raises(StoreError) as caught:
        open_store(server.rsplit("/", 1)[0] + "/no_such_db")
    assert str(caught.value).startswith(
        'PostgreSQL at 127.0.0.1:5432: database "no_such_db" does not exist; create it'
    )


def test_the_cli_says_it_in_one_line_and_exits_non_zero() -> None:
    result = run_cli("daily", "--no-scan", "--db", "postgresql://postgres:pw@127.0.0.1:9/test")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the PostgreSQL server at 127.0.0.1:9" in lines[0]
    assert "pw" not in result.stderr


def test_a_read_only_open_of_a_ledger_that_needs_migrating_says_how(pg_url: str) -> None:
    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM _llmledger_migrations WHERE name = '0005_quotas'")
    with pytest.raises(ReadOnlyLedgerError) as caught:
        open_store(pg_url, readonly=True)
    assert re.fullmatch(
        r"the ledger at postgresql://\S+ needs migrating \(pending: 0005_quotas\) but it was "
        r"opened read-only; run `llmledger db migrate --db postgresql://\S+` as a user who may "
        r"change its schema",
        str(caught.value),
    )


def test_reading_an_empty_database_never_creates_a_ledger(pg_url: str) -> None:
    with pytest.raises(NoLedgerError, match="there is no ledger in postgresql://"):
        open_store(pg_url, create=False)
    with psycopg.connect(pg_url) as conn:
        assert not conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()


def test_a_schema_of_another_application_is_refused_untouched(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(
        StoreError, match=r"is not an llmledger ledger: .* other tables \(invoices\)"
    ):
        open_store(pg_url)


def test_ledger_and_environment_variable_open_postgresql(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger(pg_url) as ledger:
        ledger.record(model="gpt-4o", input_tokens=10, output_tokens=5, ts=T0)
    monkeypatch.setenv("LLMLEDGER_DB", pg_url)
    with Ledger() as ledger:
        assert ledger.count() == 1
    result = run_cli(
        "models", "--no-scan", "--json", "--since", "2026-01-01", env={"LLMLEDGER_DB": pg_url}
    )
    assert result.returncode == 0, result.stderr
    assert '"gpt-4o"' in result.stdout


def test_without_psycopg_the_message_names_the_extra(pg_url: str) -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from llmledger.cli.main import main\n"
        f"sys.exit(main(['daily', '--no-scan', '--db', {pg_url!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "llmledger: error: PostgreSQL ledgers need psycopg 3; install it with: "
        "pip install 'llmledger[postgres]'"
    ]


def test_writers_that_lock_counters_in_opposite_orders_all_get_written(pg_url: str) -> None:
    """With quotas in use, each event adds to its user's and key's counters: batches naming
    the same users in opposite orders deadlock in PostgreSQL, which aborts one of them; the
    store writes the victim again, so every event lands and the counters stay exact."""
    from llmledger.quota.records import CounterRange

    store = open_store(pg_url)
    store.set_counter_zone("UTC", [(-(2**63), 0)])
    users = list("abcdefgh")
    errors: list[BaseException] = []

    def write(name: str, order: list[str]) -> None:
        other = open_store(pg_url)
        try:
            for i in range(100):
                other.write_events(
                    [
                        UsageEvent(
                            model="m",
                            ts=T0 + timedelta(minutes=i),
                            id=f"{name}-{i}-{user}",
                            input_tokens=1,
                            user_id=user,
                            api_key_id=f"key-{user}",
                        )
                        for user in order
                    ]
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            other.close()

    orders = [users, users[::-1], users, users[::-1]]
    threads = [threading.Thread(target=write, args=(f"w{n}", o)) for n, o in enumerate(orders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert store.count() == 4 * 100 * len(users)
    counts = store.read_quotas(
        lambda r: r.counts([CounterRange(f"user:{u}", "m:2026-01", "m:2026-01") for u in users])
    )
    assert [c.events for c in counts] == [400] * len(users)
    store.close()


def test_a_user_who_may_only_read_gets_reports_and_a_one_line_refusal(pg_url: str) -> None:
    with Ledger(pg_url) as ledger:
        ledger.record(model="gpt-4o", input_tokens=10, output_tokens=5, ts=T0)
    schema_name = pg_url.rsplit("%3D", 1)[1]
    role = f"reader_{schema_name}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA {schema_name} TO {role}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema_name} TO {role}")
    try:
        reader = pg_url.replace("postgres@", f"{role}@")
        shown = run_cli("models", "--no-scan", "--json", "--since", "2026-01-01", "--db", reader)
        assert shown.returncode == 0, shown.stderr
        assert '"inputTokens": 10' in shown.stdout
        refused = run_cli("record", "--model", "gpt-4o", "--input", "1", "--db", reader)
        assert refused.returncode == 1
        assert refused.stderr.splitlines() == [
            f"llmledger: error: the PostgreSQL ledger at {reader} refused: permission denied "
            "for table event_ids"
        ]
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")

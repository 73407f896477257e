"""The SQLite store: idempotent ids, migrations, one transaction per batch, foreign files."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from llmledger import Ledger, UsageEvent
from llmledger.errors import InvalidEventError, NotALedgerError, StoreError
from llmledger.pricing.book import PriceBook
from llmledger.query import EventFilter
from llmledger.store import open_store
from llmledger.store.checkpoint import Checkpointer
from llmledger.store.migrations import MIGRATIONS
from llmledger.store.rows import in_id_order
from llmledger.store.sqlite import SQLiteStore

T0 = datetime(2025, 8, 20, 12, 0, tzinfo=timezone.utc)


def event(event_id: str, output: int = 10, **fields: object) -> UsageEvent:
    return UsageEvent(
        id=event_id, model="gpt-4o", ts=T0, input_tokens=100, output_tokens=output, **fields
    )


def test_fresh_store_is_wal_with_recorded_migrations(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    assert store.applied_migrations()[0].startswith("0001")
    store.close()
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in conn.execute("SELECT name FROM _llmledger_migrations")]
    assert names == sorted(names) == [name for name, _ in MIGRATIONS]  # all, in order


def test_same_id_twice_is_stored_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    store.write_events([event("a"), event("b")])
    store.write_events([event("a"), event("a")])
    assert store.count() == 2


def test_same_id_keeps_the_larger_copy(tmp_path: Path) -> None:
    # Streaming logs write growing copies of one message: the final (largest) one counts.
    store = SQLiteStore(tmp_path / "l.db")
    store.write_events([event("a", output=5)])
    store.write_events([event("a", output=50)])
    store.write_events([event("a", output=7)])
    stored = store.get_event("a")
    assert stored is not None and stored.output_tokens == 50
    assert store.count() == 1


def test_invalid_event_in_a_batch_writes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    bad = event("bad")
    bad.input_tokens = -1
    with pytest.raises(InvalidEventError):
        store.write_events([event("ok1"), event("ok2"), bad])
    assert store.count() == 0


def test_counts_beyond_any_real_call_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    """validate() refuses more than 10**13 in any count; a write of a value past SQLite's 64
    bits (the bulk path checks no upper bound) is refused with a message, nothing written."""
    edge = event("edge", output=10**13)
    edge.validate()
    for field in ("input_tokens", "cache_read_tokens", "output_tokens", "requests"):
        bad = event("bad-" + field)
        setattr(bad, field, 10**13 + 1)
        with pytest.raises(InvalidEventError, match=r"beyond any real usage|requests must be"):
            bad.validate()
    store = SQLiteStore(tmp_path / "l.db")
    store.write_events([edge])
    for field in ("input_tokens", "cache_write_tokens", "requests"):
        huge = event("huge-" + field)
        setattr(huge, field, 2**63)
        with pytest.raises(InvalidEventError, match=r"beyond any real usage|requests must be"):
            store.write_events([event("fine"), huge])
    assert store.count() == 1
    store.close()


def test_record_many_refuses_what_would_overflow_the_rollup(tmp_path: Path) -> None:
    """record_many does not validate each event (the fast path checks no upper bound): an
    hour of a model that sums past any real usage is refused before SQLite adds it up."""
    with Ledger(str(tmp_path / "l.db")) as ledger:
        ledger.record_many([event("ok")])
        for _ in range(3):
            with pytest.raises(InvalidEventError, match="beyond any real usage"):
                big = event("big")
                big.input_tokens, big.model = 4 * 10**18, "x-unknown"
                ledger.record_many([big])
        bad = event("neg")
        bad.requests = -1
        with pytest.raises(InvalidEventError, match="requests must be"):
            ledger.record_many([bad])
        assert ledger.count() == 1
        assert ledger.summary(days=1_000)["totals"]["totalTokens"] == 110
        # A query the rollup cannot answer reads the events table: no overflow there either.
        (row,) = ledger.aggregate(EventFilter(since_us=1), [])
        assert row.totals.input_tokens == 100


def test_reopening_keeps_events_and_does_not_reapply_migrations(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    first = SQLiteStore(path)
    first.write_events([event("a")])
    migrations = first.applied_migrations()
    first.close()
    again = SQLiteStore(path)
    assert again.applied_migrations() == migrations
    assert again.count() == 1


def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(NotALedgerError, match="not an llmledger"):
        SQLiteStore(path)
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert tables == {"invoices"}


def test_garbage_file_is_not_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    before = path.read_bytes()
    with pytest.raises(NotALedgerError):
        SQLiteStore(path)
    assert path.read_bytes() == before


def test_ledger_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _llmledger_migrations VALUES ('9999_future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer llmledger"):
        SQLiteStore(path)


def test_open_store_urls(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    assert store.path == tmp_path / "u.db"
    with pytest.raises(StoreError):
        open_store("mysql://nope")


def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        SQLiteStore(blocker / "sub" / "l.db")


def test_costs_are_exact_integers_with_price_version(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db", prices=PriceBook(), env={})
    ledger.record_many([event(f"e{i}", output=1) for i in range(3)])
    stored = ledger.get("e0")
    assert stored is not None
    # gpt-4o: 100 x $2.5/M + 1 x $10/M = $0.00026 = 260,000 nano-USD
    assert stored.cost_nanos == 260_000
    assert stored.cost_status == "computed"
    assert stored.price_version == ledger.prices.version


def test_large_writes_are_checkpointed_off_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    store = SQLiteStore(path)
    checkpointer = store._checkpointer
    assert checkpointer is not None
    store.write_events([event(f"s{n}") for n in range(100)])
    assert checkpointer._thread is None  # a small write asks for no checkpoint
    before = path.stat().st_size
    store.write_events([event(f"b{n}", user_id=f"u{n}") for n in range(20_000)])
    assert checkpointer.wait(timeout=60)
    assert checkpointer.checkpoints >= 1
    assert path.stat().st_size > before + 500_000  # the WAL's pages reached the database file
    assert store.count() == 20_100
    thread = checkpointer._thread
    store.close()
    assert thread is not None and not thread.is_alive()
    assert not Path(f"{path}-wal").exists()  # the last connection to close removed the WAL
    reopened = SQLiteStore(path)
    assert reopened.count() == 20_100
    reopened.close()


def test_memory_store_has_no_checkpointer() -> None:
    store = SQLiteStore(":memory:")
    assert store._checkpointer is None
    store.write_events([event(f"m{n}") for n in range(5_000)])
    assert store.count() == 5_000
    store.close()


def test_many_small_writes_are_checkpointed_too(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db")
    for n in range(300):
        store.write_events([event(f"one{n}")])
    assert store._checkpointer is not None and store._checkpointer.wait(timeout=60)
    assert store._checkpointer.checkpoints >= 1
    store.close()


def test_checkpoints_with_an_odd_path_and_without_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a b#c%20?.db"
    store = SQLiteStore(path)
    store.write_events([event(f"q{n}") for n in range(20_000)])
    assert store._checkpointer is not None and store._checkpointer.wait(timeout=60)
    assert store._checkpointer.checkpoints >= 1
    store.close()
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [path.name]  # no stray file
    missing = Checkpointer(tmp_path / "missing.db")
    missing.request()
    assert missing.wait(timeout=60) and missing.checkpoints == 0
    missing.close()
    assert not (tmp_path / "missing.db").exists()


def test_rows_far_from_id_order_are_inserted_in_id_order() -> None:
    rows = [[f"id{k}", k] for k in (5, 3, 9, 1, 7, 2, 8)]
    flat = [v for row in rows for v in row]
    assert in_id_order(flat, 2) == [v for row in sorted(rows) for v in row]
    ascending = [v for row in sorted(rows) for v in row]
    assert in_id_order(ascending, 2) is ascending  # already in order: left alone
    assert in_id_order([], 2) == []

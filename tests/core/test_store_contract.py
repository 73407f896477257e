"""What every Store backend promises (store/base.py), run on each backend in STORE_BACKENDS:
events round-trip field for field, ids are idempotent, a scan's events and cursors are one
transaction, re-pricing keeps the sums exact, keys and metadata are kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from llmledger.bookkeeping import KeyRecord, ScanCursor
from llmledger.errors import InvalidEventError, StoreError
from llmledger.events import UsageEvent
from llmledger.query import EventFilter
from llmledger.store import Store, open_store
from llmledger.store.base import CostUpdate

TS = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone.utc)


@pytest.fixture
def store(ledger_url: str) -> Iterator[Store]:
    opened = open_store(ledger_url)
    yield opened
    opened.close()


def full_event(event_id: str = "e1") -> UsageEvent:
    """An event with every field away from its default."""
    return UsageEvent(
        model="gpt-5",
        ts=TS,
        id=event_id,
        source="proxy",
        provider="openai",
        input_tokens=100,
        cache_read_tokens=20,
        cache_write_tokens=30,
        cache_write_1h_tokens=40,
        output_tokens=50,
        reasoning_tokens=10,
        cost_nanos=123_456,
        cost_status="computed",
        price_version="v1",
        estimated=True,
        requests=3,
        user_id="u",
        org_id="o",
        account="acct",
        api_key_id="key_1",
        session_id="s",
        project="/p",
        request_type="chat",
        tags=("a", "b"),
        latency_ms=42,
        success=False,
        status="closed",
        details={"speed": "fast", "n": 1},
    )


def cursor(path: str, carry: object = None) -> ScanCursor:
    return ScanCursor(path, "codex", 1, 2, 10, 0, 10, carry, 1, 0)  # type: ignore[arg-type]


def test_every_field_round_trips(store: Store) -> None:
    event = full_event()
    assert store.write_events([event]) == 1
    assert store.get_event("e1") == event
    assert list(store.iter_events()) == [event]
    plain = UsageEvent(model="m", ts=TS, id="e2")
    store.write_events([plain])
    assert store.get_event("e2") == plain


def test_an_id_is_stored_once_and_keeps_its_larger_copy(store: Store) -> None:
    small = UsageEvent(model="m", ts=TS, id="x", output_tokens=5)
    big = UsageEvent(model="m", ts=TS, id="x", output_tokens=9)
    assert store.write_events([small]) == 1
    assert store.write_events([big]) == 1
    assert store.write_events([small]) == 0  # fewer tokens: the stored copy stays
    assert store.count() == 1
    stored = store.get_event("x")
    assert stored is not None and stored.output_tokens == 9
    (row,) = store.aggregate(EventFilter(), [])
    assert (row.totals.output_tokens, row.totals.events) == (9, 1)


def test_a_scan_batch_is_one_transaction(store: Store) -> None:
    events = [UsageEvent(model="m", ts=TS, id=f"s{n}", source="codex") for n in range(3)]
    assert store.write_scan(events, [cursor("/a")]) == 3
    assert sorted(store.scan_cursors()) == ["/a"]
    more = [UsageEvent(model="m", ts=TS, id="s9", source="codex")]
    with pytest.raises((StoreError, TypeError)):
        store.write_scan(more, [cursor("/b", carry={"x": object()})])  # cannot be stored
    assert store.get_event("s9") is None  # nothing of the failed batch was written
    assert sorted(store.scan_cursors()) == ["/a"]


def test_write_scan_replaces_a_larger_copy_only_when_told(store: Store) -> None:
    side = UsageEvent(model="m", ts=TS, id="x", output_tokens=500, session_id="side")
    main = UsageEvent(model="m", ts=TS, id="x", output_tokens=10, session_id="main")
    store.write_scan([side], [])
    store.write_scan([main], [])
    stored = store.get_event("x")
    assert stored is not None and stored.session_id == "side"
    store.write_scan([main], [], {"x"})
    stored = store.get_event("x")
    assert stored is not None and (stored.session_id, stored.output_tokens) == ("main", 10)
    (row,) = store.aggregate(EventFilter(), ["model"])
    assert (row.totals.output_tokens, row.totals.events) == (10, 1)


def test_new_costs_change_the_sums(store: Store) -> None:
    store.write_events([full_event("a"), full_event("b")])
    assert store.update_costs([CostUpdate("a", 1_000, "computed", "v2")]) == 1
    assert store.update_costs([CostUpdate("nope", 1, "computed", "v2")]) == 0
    (row,) = store.aggregate(EventFilter(), ["model"])
    assert row.totals.cost_nanos == 1_000 + 123_456
    stored = store.get_event("a")
    assert stored is not None and (stored.cost_nanos, stored.price_version) == (1_000, "v2")


def test_keys_are_kept_found_and_revoked(store: Store) -> None:
    record = KeyRecord(id="key_1", key_hash="h" * 64, prefix="llk_abcd", user_id="u", org_id="o")
    added = store.add_key(record)
    assert added.created_at > 0
    assert store.find_key("h" * 64) == added
    assert store.get_key("key_1") == added
    assert store.list_keys() == [added]
    with pytest.raises(StoreError, match="exists already"):
        store.add_key(record)
    assert store.revoke_key("key_1") is True
    assert store.revoke_key("key_1") is False
    assert store.list_keys(include_revoked=False) == []
    revoked = store.get_key("key_1")
    assert revoked is not None and revoked.active is False


def test_metadata_and_time_span(store: Store) -> None:
    assert store.get_meta("k") is None
    store.set_meta("k", "v")
    assert store.get_meta("k") == "v"
    assert store.time_span() is None
    store.write_events([full_event()])
    ts_us = int(TS.timestamp()) * 1_000_000 + TS.microsecond
    assert store.time_span() == (ts_us, ts_us)
    assert store.unpriced_models(EventFilter()) == []


def test_a_bad_event_deep_in_a_big_write_rolls_back_all_of_it(store: Store) -> None:
    """Big writes go in batches (pipelined on PostgreSQL); one invalid event in a late batch
    leaves nothing of the call behind."""
    events = [UsageEvent(model="m", ts=TS, id=f"b{n}", input_tokens=n) for n in range(25_000)]
    events[22_000].output_tokens = -1
    with pytest.raises(InvalidEventError, match="output_tokens must not be negative"):
        store.write_events(events)
    assert store.count() == 0
    assert store.aggregate(EventFilter(), []) == []
    events[22_000].output_tokens = 0
    assert store.write_events(events) == 25_000
    (row,) = store.aggregate(EventFilter(), [])
    assert row.totals.input_tokens == sum(range(25_000))


def test_rate_window_readings_are_kept_once(store: Store) -> None:
    from llmledger.rate_windows import RateWindow

    def reading(observed: int, percent: float, window: str = "primary") -> RateWindow:
        return RateWindow(source="codex", window=window, observed_us=observed, used_percent=percent)

    assert (
        store.record_rate_windows([reading(2, 12.5), reading(1, 10.0), reading(1, 4.0, "b")]) == 3
    )
    assert store.record_rate_windows([reading(1, 10.0), reading(3, 13.0)]) == 1
    stored = store.rate_windows()
    assert [(r.observed_us, r.window, r.used_percent) for r in stored] == [
        (1, "b", 4.0),
        (1, "primary", 10.0),
        (2, "primary", 12.5),
        (3, "primary", 13.0),
    ]
    assert [r.observed_us for r in store.rate_windows(since_us=2)] == [2, 3]

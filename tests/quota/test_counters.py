"""The usage counters the quota checks read equal the ledger's events on every write path:
record, a larger copy replacing a stored one, re-pricing, a scan batch, a ledger that had
events before the quota tables existed, a model a budget starts tracking, a new time zone."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.query import EventFilter
from llmledger.quota.periods import counter_range, month_at, window_at, zone_offsets
from llmledger.quota.records import Budget, CounterRange, Counts
from llmledger.store.migrations import MIGRATIONS_TABLE
from tests.quota.conftest import OpenBook, at, open_ledger, sqlite_only


def event(event_id: str, when: str, **fields: object) -> UsageEvent:
    values: dict[str, object] = {"model": "gpt-4o", "input_tokens": 100, "output_tokens": 50}
    values.update({"user_id": "u1", **fields})
    return Ledger.make_event(id=event_id, ts=at(when), source="proxy", **values)


def counters(ledger: Ledger, subject: str, first: str, last: str | None = None) -> Counts:
    (found,) = ledger.store.read_quotas(
        lambda reader: reader.counts([CounterRange(subject, first, last or first)])
    )
    return found


def from_events(ledger: Ledger, since: str, until: str, **equals: str) -> Counts:
    flt = EventFilter(
        since_us=int(at(since).timestamp() * 1_000_000),
        until_us=int(at(until).timestamp() * 1_000_000),
        equals={column: (value,) for column, value in equals.items()},
    )
    rows = ledger.aggregate(flt, [])
    if not rows:
        return Counts()
    t = rows[0].totals
    return Counts(
        t.input_tokens + t.output_tokens,
        t.cache_read_tokens + t.cache_write_tokens + t.cache_write_1h_tokens,
        t.cost_nanos,
        t.events,
    )


def test_every_write_path_keeps_the_counters_equal_to_the_events(ledger_path: Path) -> None:
    ledger = open_ledger(ledger_path)
    assert ledger.quotas.zone_name == "UTC"  # quotas in use: the ledger counts from now on
    ledger.record(event("a", "2026-01-05T10:00", cache_read_tokens=1000, api_key_id="k1"))
    ledger.record_many(
        [event("b", "2026-01-06T10:00", org_id="acme"), event("c", "2026-02-01T00:00")]
    )
    # A larger copy of "a" replaces it (without the key); a smaller copy of "b" is dropped.
    ledger.record(event("a", "2026-01-05T10:00", input_tokens=900, cache_read_tokens=1000))
    ledger.record(event("b", "2026-01-06T10:00", input_tokens=1, org_id="acme"))
    ledger.write_scan([event("d", "2026-01-31T23:59", model="claude-sonnet-4-5")], [])
    january = from_events(ledger, "2026-01-01T00:00", "2026-02-01T00:00", user_id="u1")
    assert january._replace(cost_nanos=0) == Counts(950 + 150 + 150, 1000, 0, 3)
    assert january.cost_nanos > 0
    assert counters(ledger, "user:u1", "m:2026-01") == january
    assert counters(ledger, "user:u1", "d:2026-01-01", "d:2026-01-31") == january
    assert counters(ledger, "user:u1", "d:2026-01-05") == from_events(
        ledger, "2026-01-05T00:00", "2026-01-06T00:00", user_id="u1"
    )
    assert counters(ledger, "user:u1", "m:", "m:~").events == 4
    assert counters(ledger, "org:acme", "m:2026-01") == from_events(
        ledger, "2026-01-01T00:00", "2026-02-01T00:00", org_id="acme"
    )
    assert counters(ledger, "key:k1", "m:2026-01") == Counts()  # the copy that had it is gone
    ledger.close()


def test_costs_changed_by_repricing_reach_the_counters(ledger_path: Path) -> None:
    ledger = open_ledger(ledger_path)
    assert ledger.quotas.zone_name == "UTC"  # counting
    ledger.record(event("a", "2026-01-05T10:00", cost=1.5))  # reported
    assert counters(ledger, "user:u1", "m:2026-01").cost_nanos == 1_500_000_000
    assert ledger.reprice(include_reported=True) == 1
    repriced = ledger.get("a")
    assert repriced is not None and repriced.cost_nanos is not None
    assert counters(ledger, "user:u1", "m:2026-01").cost_nanos == repriced.cost_nanos
    ledger.close()


def test_events_from_before_the_quota_tables_are_counted(ledger_path: Path) -> None:
    ledger_path = sqlite_only(ledger_path)
    ledger = open_ledger(ledger_path)
    ledger.record(event("a", "2026-01-05T10:00"))
    ledger.close()
    conn = sqlite3.connect(ledger_path)
    for table in ("quota_counters", "quota_plans", "quota_grants", "quota_budgets"):
        conn.execute(f"DROP TABLE {table}")
    for table in ("quota_alerts", "quota_holds", "quota_zone", "quota_models"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute(f"DELETE FROM {MIGRATIONS_TABLE} WHERE name = '0005_quotas'")
    conn.commit()
    conn.close()
    again = open_ledger(ledger_path)
    assert again.quotas.zone_name == "UTC"  # the first quota book counts what is there
    assert counters(again, "user:u1", "m:2026-01") == Counts(150, 0, 750_000, 1)
    again.close()


def test_a_model_is_counted_from_its_first_budget_on(open_book: OpenBook) -> None:
    book = open_book()
    ledger = book._ledger
    ledger.record(event("a", "2026-01-05T10:00", user_id=None))
    ledger.record(event("b", "2026-01-05T11:00", user_id=None, model="gpt-5"))
    assert counters(ledger, "model:gpt-4o", "m:2026-01") == Counts()
    book.add_budget(Budget("b1", "model", "gpt-4o", "month", tokens=1000))
    # gpt-4o: $2.50 and $10 per million input and output tokens.
    assert counters(ledger, "model:gpt-4o", "m:2026-01") == Counts(150, 0, 750_000, 1)
    assert counters(ledger, "model:gpt-4o", "d:2026-01-05") == Counts(150, 0, 750_000, 1)
    ledger.record(event("c", "2026-01-06T10:00", user_id=None))
    assert counters(ledger, "model:gpt-4o", "m:2026-01").events == 2
    assert book.remove_budget("b1") is True
    assert counters(ledger, "model:gpt-4o", "m:2026-01") == Counts()
    assert book.remove_budget("b1") is False


def test_counters_follow_the_configured_zone(open_book: OpenBook) -> None:
    # 23:30 UTC on 31 January is 07:30 on 1 February in Shanghai.
    utc = open_book()
    utc._ledger.record(event("late", "2026-01-31T23:30"))
    assert counters(utc._ledger, "user:u1", "m:2026-01").events == 1
    shanghai = open_book({"quotas": {"timezone": "Asia/Shanghai"}})
    ledger = shanghai._ledger
    assert counters(ledger, "user:u1", "m:2026-01") == Counts()
    assert counters(ledger, "user:u1", "m:2026-02").events == 1
    assert counters(ledger, "user:u1", "d:2026-02-01").events == 1
    ledger.record(event("next", "2026-02-28T16:30"))  # 00:30 on 1 March in Shanghai
    assert counters(ledger, "user:u1", "m:2026-03").events == 1


def test_counter_ranges_of_each_window() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    moment = at("2026-01-31T23:30")  # Sunday 1 February, 00:30 in Berlin
    assert counter_range(window_at("day", moment, berlin), berlin) == ("d:2026-02-01",) * 2
    assert counter_range(window_at("week", moment, berlin), berlin) == (
        "d:2026-01-26",
        "d:2026-02-01",
    )
    assert counter_range(month_at(moment, berlin), berlin) == ("m:2026-02",) * 2
    assert counter_range(window_at("total", moment, berlin), berlin) == ("m:", "m:~")


def test_zone_offsets_have_every_change_to_the_second() -> None:
    assert zone_offsets("UTC") == ((-(2**63), 0),)
    assert zone_offsets("Asia/Kolkata") == ((-(2**63), 19_800_000_000),)
    berlin = dict(zone_offsets("Europe/Berlin"))
    # Summer time 2026: from 01:00 UTC on 29 March to 01:00 UTC on 25 October.
    assert berlin[int(at("2026-03-29T01:00").timestamp()) * 1_000_000] == 7_200_000_000
    assert berlin[int(at("2026-10-25T01:00").timestamp()) * 1_000_000] == 3_600_000_000


def test_a_ledger_counts_only_once_quotas_are_used(ledger_path: Path) -> None:
    """No triggers (no cost per write) until a quota book opens the ledger; then the counters
    start from every event already there."""
    ledger_path = sqlite_only(ledger_path)
    ledger = open_ledger(ledger_path)
    ledger.record_many([event("a", "2026-01-05T10:00"), event("b", "2026-01-06T10:00")])

    def triggers() -> list[str]:
        return ledger.store.read_quotas(  # type: ignore[attr-defined]
            lambda reader: [
                row[0]
                for row in reader._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
                )
            ]
        )

    assert triggers() == []
    assert counters(ledger, "user:u1", "m:2026-01") == Counts()
    assert ledger.quotas.zone_name == "UTC"
    assert triggers() == ["quota_count_delete", "quota_count_insert", "quota_count_update"]
    january = from_events(ledger, "2026-01-01T00:00", "2026-02-01T00:00", user_id="u1")
    assert january.events == 2
    assert counters(ledger, "user:u1", "m:2026-01") == january

"""Reports grouped or filtered by user and organization agree with the events on both backends
(PostgreSQL reads them from its rollup by user, SQLite from the events), whatever was written:
replacements, repricing, a rebuild; and the rollup by user is exact after each."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from llmledger import Ledger, PriceBook, UsageEvent
from llmledger.report.aggregate import ReportOptions
from llmledger.report.timezones import resolve_zone
from tests.ledger_sql import fetch_sql

T0 = datetime(2025, 3, 29, tzinfo=timezone.utc)  # spans Europe's DST change
Sums = dict[tuple[str, str | None], list[int]]  # (day, user or org) -> sums


def _event(rng: random.Random, ids: int) -> UsageEvent:
    return UsageEvent(
        id=f"u{rng.randrange(ids)}",
        ts=T0 + timedelta(minutes=rng.randrange(0, 3 * 24 * 60)),
        model=rng.choice(["gpt-4o", "claude-sonnet-4-5", "no-such-model"]),
        provider=rng.choice([None, "openai"]),
        source=rng.choice(["sdk", "proxy"]),
        input_tokens=rng.randrange(0, 5000),
        output_tokens=rng.randrange(0, 3000),
        user_id=rng.choice([None, "alice", "bob", "carol"]),
        org_id=rng.choice([None, None, "acme"]),
        success=rng.random() > 0.1,
    )


def _expected(ledger: Ledger, zone_name: str, dim: str) -> Sums:
    zone = resolve_zone(zone_name)
    sums: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for e in ledger.store.iter_events():
        value = getattr(e, dim)
        s = sums[(e.ts.astimezone(zone).date().isoformat(), value or "(none)")]
        s[0] += e.input_tokens
        s[1] += e.output_tokens
        s[2] += e.cost_nanos or 0
        s[3] += 1
        s[4] += 0 if e.success else 1
    return dict(sums)


def _reported(
    ledger: Ledger, zone_name: str, group: str
) -> dict[tuple[str, str | None], list[int]]:
    options = ReportOptions(kind="daily", zone=resolve_zone(zone_name), group_by=group)
    return {
        (row.key, row.group): [
            row.totals.input_tokens,
            row.totals.output_tokens,
            row.totals.cost_nanos,
            row.totals.events,
            row.totals.failed,
        ]
        for row in ledger.build_report(options).rows
    }


def _assert_reports_agree(ledger: Ledger) -> None:
    for zone in ("UTC", "Europe/Berlin", "Asia/Kolkata"):
        assert _reported(ledger, zone, "user") == _expected(ledger, zone, "user_id")
        assert _reported(ledger, zone, "org") == _expected(ledger, zone, "org_id")
    events = list(ledger.store.iter_events())
    only_bob = ReportOptions(kind="models", filters={"user_id": ("bob",)})
    report = ledger.build_report(only_bob)
    assert report.totals.input_tokens == sum(e.input_tokens for e in events if e.user_id == "bob")
    assert report.totals.events == sum(1 for e in events if e.user_id == "bob")
    # '' is nobody's user id (the rollup's stand-in for none): it matches no event.
    assert ledger.build_report(ReportOptions(kind="models", filters={"user_id": ("",)})).rows == []


def _users_rollup(ledger: Ledger) -> list[tuple[object, ...]]:
    return fetch_sql(
        ledger, "SELECT * FROM rollup_hourly_users WHERE events <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7"
    )


def test_reports_by_user_and_org_agree_with_the_events(ledger_url: str) -> None:
    rng = random.Random(7)
    with Ledger(ledger_url, prices=PriceBook(), env={}) as ledger:
        # Few ids: later batches replace stored copies (and lose to larger ones).
        for size, ids in ((3000, 2000), (3000, 2500), (400, 3000)):
            ledger.record_many([_event(rng, ids) for _ in range(size)])
        ledger.reprice(include_reported=True)
        _assert_reports_agree(ledger)
        if ledger_url.startswith("postgresql://"):
            incremental = _users_rollup(ledger)
            ledger.store.rebuild_rollup()
            rebuilt = _users_rollup(ledger)
            assert [r[:-2] for r in incremental] == [r[:-2] for r in rebuilt]
            assert {r[1] for r in rebuilt} == {"", "alice", "bob", "carol"}
            _assert_reports_agree(ledger)


def test_a_re_recorded_batch_changes_no_rollup(ledger_url: str) -> None:
    rng = random.Random(3)
    batch = [_event(rng, 10**9) for _ in range(2500)]
    with Ledger(ledger_url, prices=PriceBook(), env={}) as ledger:
        assert ledger.record_many(batch) == len({e.id for e in batch})
        hourly = fetch_sql(ledger, "SELECT * FROM rollup_hourly ORDER BY 1, 2, 3, 4, 5")
        users = _users_rollup(ledger) if ledger_url.startswith("postgresql://") else []
        assert ledger.record_many(batch) == 0
        assert fetch_sql(ledger, "SELECT * FROM rollup_hourly ORDER BY 1, 2, 3, 4, 5") == hourly
        if ledger_url.startswith("postgresql://"):
            assert _users_rollup(ledger) == users
        _assert_reports_agree(ledger)

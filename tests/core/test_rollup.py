"""The hourly rollup answers reports exactly as the events would, whatever was written."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmledger import Ledger, PriceBook, UsageEvent
from llmledger.report.aggregate import ReportOptions
from llmledger.report.timezones import resolve_zone
from llmledger.store.sqlite import SQLiteStore
from tests.ledger_sql import fetch_sql

T0 = datetime(2025, 3, 29, tzinfo=timezone.utc)  # spans Europe's DST change

events_strategy = st.lists(
    st.builds(
        lambda n, minutes, model, source, tin, out, user: UsageEvent(
            id=f"e{n}",
            ts=T0 + timedelta(minutes=minutes),
            model=model,
            source=source,
            input_tokens=tin,
            output_tokens=out,
            user_id=user,
        ),
        n=st.integers(0, 30),  # few ids: many replacements
        minutes=st.integers(0, 3 * 24 * 60),
        model=st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "no-such-model"]),
        source=st.sampled_from(["sdk", "proxy"]),
        tin=st.integers(0, 5000),
        out=st.integers(0, 5000),
        user=st.sampled_from([None, "u1", "u2"]),
    ),
    max_size=60,
)


def _by_events(store: SQLiteStore, zone_name: str) -> dict[tuple[object, ...], tuple[int, ...]]:
    zone = resolve_zone(zone_name)
    sums: dict[tuple[object, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for e in store.iter_events():
        day = e.ts.astimezone(zone).date().isoformat()
        s = sums[(day, e.model)]
        s[0] += e.input_tokens
        s[1] += e.output_tokens
        s[2] += e.cost_nanos or 0
        s[3] += 1
        s[4] += 1 if e.cost_status == "unpriced" else 0
    return {k: tuple(v) for k, v in sums.items()}


def _by_report(ledger: Ledger, zone_name: str) -> dict[tuple[object, ...], tuple[int, ...]]:
    report = ledger.build_report(ReportOptions(kind="daily", zone=resolve_zone(zone_name)))
    out = {}
    for row in report.rows:
        for model, t in row.models.items():
            key = (row.key, model)
            out[key] = (t.input_tokens, t.output_tokens, t.cost_nanos, t.events, t.unpriced)
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=events_strategy, second=events_strategy)
def test_rollup_matches_events(
    tmp_path: Path, first: list[UsageEvent], second: list[UsageEvent]
) -> None:
    path = tmp_path / f"r{abs(hash((len(first), len(second))))}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with Ledger(path, prices=PriceBook(), env={}) as ledger:
        ledger.record_many(first)
        ledger.record_many(second)
        ledger.reprice(include_reported=True)
        for zone in ("UTC", "Europe/Berlin", "Asia/Kolkata"):
            assert _by_report(ledger, zone) == _by_events(ledger.store, zone)
        # A filter the rollup cannot answer goes to the events and agrees too.
        report = ledger.build_report(ReportOptions(kind="models", filters={"user_id": ("u1",)}))
        expected = sum(e.input_tokens for e in ledger.store.iter_events() if e.user_id == "u1")
        assert report.totals.input_tokens == expected


def test_rebuild_gives_the_same_rollup(ledger_url: str) -> None:
    with Ledger(ledger_url, prices=PriceBook(), env={}) as ledger:
        for n in range(3):
            ledger.record_many(
                [
                    UsageEvent(id=f"x{i % 50}", model="gpt-4o", input_tokens=i * n, ts=T0)
                    for i in range(200)
                ]
            )
        before = fetch_sql(ledger, "SELECT * FROM rollup_hourly WHERE events > 0 ORDER BY 1, 2")
        ledger.store.rebuild_rollup()
        after = fetch_sql(ledger, "SELECT * FROM rollup_hourly ORDER BY 1, 2")
        assert [r[:-2] for r in before] == [r[:-2] for r in after]
        assert len(after) == 1 and after[0][5] == sum(i * 2 for i in range(150, 200))


def _varied_event(rng: random.Random, n: int) -> UsageEvent:
    """An event of one of many column masks (every optional column shows up somewhere)."""
    output = rng.randrange(0, 3000)
    reported = rng.random() < 0.1
    return UsageEvent(
        id=f"v{rng.randrange(n)}",
        ts=T0 + timedelta(minutes=rng.randrange(0, 6 * 60)),
        model=rng.choice(["gpt-4o", "claude-sonnet-4-5", "no-such-model"]),
        provider=rng.choice([None, "openai", "anthropic"]),
        source=rng.choice(["sdk", "proxy"]),
        input_tokens=rng.randrange(0, 5000),
        cache_read_tokens=rng.choice([0, rng.randrange(0, 9000)]),
        cache_write_tokens=rng.choice([0, rng.randrange(0, 900)]),
        cache_write_1h_tokens=rng.choice([0, 0, rng.randrange(0, 900)]),
        output_tokens=output,
        reasoning_tokens=rng.choice([0, rng.randrange(0, output + 1)]),
        cost_nanos=rng.randrange(0, 10**7) if reported else None,
        cost_status="reported" if reported else "unpriced",
        estimated=rng.random() < 0.1,
        requests=rng.choice([1, 1, 1, 0, 3]),
        user_id=rng.choice([None, "u1"]),
        org_id=rng.choice([None, None, "o1"]),
        tags=rng.choice([(), ("a", "b")]),
        latency_ms=rng.choice([None, 12.5]),
        success=rng.random() > 0.1,
        status=rng.choice([None, "ok"]),
        details=rng.choice([None, {"tier": "x"}]),
    )


def test_rollup_exact_through_multi_row_statements_and_replacements(ledger_url: str) -> None:
    """Batches large enough for the 50-row statements, with stored ids (statements redone row
    by row, larger copies replacing, smaller ones lost) and duplicates inside a batch."""
    rng = random.Random(11)
    kept: dict[str, UsageEvent] = {}
    with Ledger(ledger_url, prices=PriceBook(), env={}) as ledger:
        for size, ids in ((3000, 2000), (3000, 2600), (500, 3000), (2000, 100_000)):
            batch = [_varied_event(rng, ids) for _ in range(size)]
            ledger.record_many(batch)
            for e in batch:  # priced in place by record_many
                if e.id not in kept or e.total_tokens >= kept[e.id].total_tokens:
                    kept[e.id] = e
        stored = {e.id: e for e in ledger.store.iter_events()}
        assert {i: e.total_tokens for i, e in stored.items()} == {
            i: e.total_tokens for i, e in kept.items()
        }
        incremental = fetch_sql(
            ledger, "SELECT * FROM rollup_hourly WHERE events > 0 ORDER BY 1, 2, 3, 4, 5"
        )
        ledger.store.rebuild_rollup()
        rebuilt = fetch_sql(ledger, "SELECT * FROM rollup_hourly ORDER BY 1, 2, 3, 4, 5")
        assert [r[:-2] for r in incremental] == [r[:-2] for r in rebuilt]
        assert len({r[5] for r in rebuilt}) > 1

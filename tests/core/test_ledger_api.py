"""The Python API: Ledger, module-level helpers on the default ledger, the background writer."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import llmledger
from llmledger import Ledger, UsageEvent
from llmledger.errors import InvalidEventError, StoreError


@pytest.fixture
def fresh_default() -> Iterator[None]:
    previous = llmledger.set_default_ledger(None)
    yield
    current = llmledger.set_default_ledger(previous)
    if current is not None:
        current.close()


def test_default_ledger_lives_in_the_data_dir(tmp_path: Path) -> None:
    with Ledger() as ledger:
        ledger.record(model="qwen-plus", input_tokens=152, output_tokens=487, user_id="u1")
    db = tmp_path / "llmledger-home" / "ledger.db"
    assert db.exists()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_llmledger_db_env_overrides_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMLEDGER_DB", str(tmp_path / "elsewhere.db"))
    with Ledger() as ledger:
        ledger.record(model="gpt-4o", input_tokens=1)
    assert (tmp_path / "elsewhere.db").exists()


def test_record_summary_report_and_session_usage(ledger_url: str) -> None:
    now = datetime.now(timezone.utc)
    with Ledger(ledger_url) as ledger:
        ledger.record(
            model="qwen-plus",
            provider="dashscope",
            input_tokens=152,
            output_tokens=487,
            user_id="u1",
            session_id="s1",
            request_type="diagram_generation",
        )
        ledger.record(model="claude-sonnet-4-5", input_tokens=1000, output_tokens=500, ts=now)
        old = now - timedelta(days=40)
        ledger.record(model="gpt-4o", input_tokens=10, output_tokens=10, ts=old)

        summary = ledger.summary(days=30, tz="UTC")
        assert summary["totals"]["inputTokens"] == 1152
        assert summary["totals"]["outputTokens"] == 987
        assert summary["totals"]["requests"] == 2
        assert {m["model"] for m in summary["models"]} == {"qwen-plus", "claude-sonnet-4-5"}
        # qwen-plus $0.4/M in, $1.2/M out; sonnet $3/M, $15/M
        expected = (152 * 0.4 + 487 * 1.2 + 1000 * 3 + 500 * 15) / 1e6
        assert summary["totals"]["totalCost"] == pytest.approx(expected, abs=1e-12)

        text = ledger.report(days=7, tz="UTC")
        assert "TOTAL" in text and "1,152" in text and "Total Requests: 2" in text

        session = ledger.session_usage()
        assert session["totals"]["requests"] == 3
        assert session["models"]["gpt-4o"]["inputTokens"] == 10


def test_module_level_helpers_use_the_default_ledger(fresh_default: None) -> None:
    event = llmledger.record_token_usage("acct-1", 100, 50, model="gpt-4o")
    assert event.account == "acct-1"
    summary = llmledger.get_token_usage_summary(days=30)
    assert summary["totals"]["inputTokens"] == 100
    assert summary["totals"]["outputTokens"] == 50
    assert "150" in llmledger.format_token_usage_report(days=7)
    assert llmledger.get_session_token_usage()["totals"]["totalTokens"] == 150


def test_record_validates_before_writing(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        with pytest.raises(InvalidEventError):
            ledger.record(model="gpt-4o", input_tokens=-5)
        with pytest.raises(InvalidEventError):
            ledger.record(model="gpt-4o", input_tokenz=5)
        with pytest.raises(InvalidEventError):
            ledger.record(model="gpt-4o", ts="yesterday-ish")
        with pytest.raises(InvalidEventError):
            ledger.record(model="", input_tokens=1)
        assert ledger.count() == 0


def test_unknown_model_is_stored_unpriced(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        stored = ledger.record(model="claude-sonnet-4-7", input_tokens=10)
        assert stored.cost_status == "unpriced" and stored.cost_nanos is None
        assert ledger.summary(days=1, tz="UTC")["unpricedModels"] == ["claude-sonnet-4-7"]


def test_reported_cost_is_kept(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        stored = ledger.record(model="openrouter/x", input_tokens=10, cost="0.0123")
        assert stored.cost_status == "reported"
        assert str(stored.cost) == "0.012300000"


def test_submit_from_many_threads_then_flush(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:

        def work(worker: int) -> None:
            for i in range(250):
                ledger.submit(
                    UsageEvent(model="gpt-4o", id=f"w{worker}:{i}", input_tokens=1, output_tokens=1)
                )

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ledger.flush(timeout=30)
        assert ledger.count() == 1000
        assert ledger.writer.written == 1000


def test_close_flushes_what_was_submitted(ledger_url: str) -> None:
    path = ledger_url
    ledger = Ledger(path)
    futures = [ledger.submit(UsageEvent(model="gpt-4o", input_tokens=i)) for i in range(100)]
    ledger.close()
    assert all(f.done() and f.exception() is None for f in futures)
    with Ledger(path) as again:
        assert again.store.count() == 100


def test_writer_failure_is_counted_and_logged_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.submit(UsageEvent(model="gpt-4o", input_tokens=1))
        ledger.flush()
        # Make the database unwritable behind the ledger's back.
        ledger.store._conn.execute("PRAGMA query_only = ON")
        with caplog.at_level(logging.ERROR, logger="llmledger.writer"):
            future = ledger.submit(UsageEvent(model="gpt-4o", input_tokens=2))
            ledger.flush()
        assert isinstance(future.exception(), StoreError)
        assert "readonly" in str(future.exception())
        assert ledger.writer.failed == 1
        assert any("could not record" in r.getMessage() for r in caplog.records)
        assert all(r.levelno == logging.ERROR for r in caplog.records)
        ledger.store._conn.execute("PRAGMA query_only = OFF")


def test_submit_rejects_invalid_events_at_once(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        bad = UsageEvent(model="gpt-4o")
        bad.output_tokens = -3
        with pytest.raises(InvalidEventError):
            ledger.submit(bad)


def test_session_usage_of_a_bulk_write_equals_what_the_ledger_stored(ledger_url: str) -> None:
    # Many rollup rows per model (hours, sources, statuses): the per-model session totals are
    # summed from them and must equal the stored events, unpriced/estimated/failed included.
    import random

    from llmledger.query import EventFilter
    from llmledger.report.render.jsonout import totals_fields

    rng = random.Random(7)
    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    models = ["gpt-4o", "claude-sonnet-4-5", "no-such-model-xyz"]
    events = [
        UsageEvent(
            model=models[n % 3],
            id=f"e{n}",
            ts=start + timedelta(minutes=37 * n),
            source=("sdk", "proxy")[n % 2],
            input_tokens=rng.randrange(0, 5000),
            cache_read_tokens=rng.randrange(0, 900),
            cache_write_tokens=rng.randrange(0, 300),
            cache_write_1h_tokens=rng.randrange(0, 50) if n % 5 == 0 else 0,
            output_tokens=rng.randrange(10, 800),
            reasoning_tokens=rng.randrange(0, 10),
            requests=1 + n % 2,
            estimated=n % 7 == 0,
            success=n % 11 != 0,
        )
        for n in range(600)
    ]
    with Ledger(ledger_url) as ledger:
        assert ledger.record_many(events) == 600
        stored = {
            row.key["model"]: totals_fields(row.totals)
            for row in ledger.aggregate(EventFilter(), ["model"])
        }
        session = ledger.session_usage()
        assert session["models"] == stored
        assert session["models"]["no-such-model-xyz"]["unpricedRequests"] == 200
        assert session["totals"]["requests"] == 900
        # Every field, failed calls and first/last timestamps included (not in the JSON).
        rows = ledger.aggregate(EventFilter(), ["model"])
        assert ledger._session_models == {row.key["model"]: row.totals for row in rows}

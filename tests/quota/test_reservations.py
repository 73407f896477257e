"""Reserve, then settle: hard limits refuse before any upstream call, settled usage replaces
the estimate in the same transaction, holds expire, and parallel clients (threads, and two
processes on one SQLite file) overrun a limit by at most one request."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from llmledger.events import UsageEvent
from llmledger.query import EventFilter
from llmledger.quota.batching import QuotaBatcher
from llmledger.quota.records import Budget
from llmledger.quota.service import Estimate, QuotaBook, Subject
from tests.quota.conftest import Clock, OpenBook, at, open_ledger
from tests.quota.hammer import LIMITED, REQUEST_TOKENS, process_clients, run_clients

WHO = Subject(user_id="u1", org_id="acme", key_id="k1", model="gpt-4o")


def used_event(request_id: str, tokens: int, **fields: object) -> UsageEvent:
    values: dict[str, object] = {"user_id": "u1", "org_id": "acme", "api_key_id": "k1"}
    values.update(fields)
    return UsageEvent(
        model="gpt-4o",
        id=request_id,
        ts=at("2026-01-10T11:59"),
        source="proxy",
        input_tokens=tokens,
        **values,  # type: ignore[arg-type]
    )


def test_settle_replaces_the_estimate_with_the_real_usage(open_book: OpenBook) -> None:
    book = open_book({"plans": {"hobby": {"tokens": 10_000}}})
    admission = book.check_and_reserve(WHO, "r1", Estimate(8_000))
    assert admission.admitted and admission.refusal is None
    assert admission.reservation is not None
    assert [h.subject for h in admission.reservation.holds] == ["user:u1"]
    assert book.held(WHO) == {"user:u1": 8_000}
    assert book.summary("u1")["used"] == 0  # held, not used
    # 8,000 of 10,000 held: room is left, so the next request is admitted.
    second = book.check_and_reserve(WHO, "r2", Estimate(8_000))
    assert second.admitted is True
    third = book.check_and_reserve(WHO, "r3", Estimate(10))
    assert third.refusal is not None and third.refusal.reserved == 16_000
    recorded = book.settle(admission.reservation, used_event("r1", 500))
    assert recorded.cost_nanos == 1_250_000  # priced on the way in
    assert book.held(WHO) == {"user:u1": 8_000}
    book.release(second.reservation)  # type: ignore[arg-type]
    assert book.held(WHO) == {}
    assert book.summary("u1")["used"] == 500


def test_a_refusal_says_which_limit_and_when_it_resets(open_book: OpenBook) -> None:
    book = open_book({"plans": {"hobby": {"tokens": 1000}}})
    book.record_tokens("u1", 1000)
    admission = book.check_and_reserve(WHO, "r1", Estimate(10))
    assert admission.reservation is None and admission.refusal is not None
    assert admission.refusal.error() == {
        "error": {
            "type": "budget_exceeded",
            "message": "monthly limit of plan 'hobby' for user:u1 reached: 1,000 of 1,000 "
            "tokens used; resets at 2026-02-01T00:00:00Z",
            "limit": 1000,
            "used": 1000,
            "resets_at": "2026-02-01T00:00:00Z",
        }
    }
    assert book.would_admit(WHO, Estimate(10)) == admission.refusal
    assert book.held(WHO) == {}  # nothing held for a refused request
    book.add_grant(500, user_id="u1")
    assert book.would_admit(WHO, Estimate(10)) is None


def test_budgets_refuse_when_hard_and_only_alert_when_soft(open_book: OpenBook) -> None:
    book = open_book({"plans": {"hobby": {"tokens": 10**9, "overage": "allow"}}})
    book.add_budget(Budget("soft", "user", "u1", "day", tokens=100, hard=False))
    book.add_budget(Budget("usd", "key", "k1", "week", cost_nanos=2_500_000))  # $0.0025
    first = book.check_and_reserve(WHO, "r1", Estimate(1000, cost_nanos=2_500_000))
    assert first.admitted and first.reservation is not None
    assert sorted(h.subject for h in first.reservation.holds) == ["key:k1", "user:u1"]
    refused = book.check_and_reserve(WHO, "r2", Estimate(10, cost_nanos=1))
    assert refused.refusal is not None
    assert (refused.refusal.name, refused.refusal.unit, refused.refusal.limit) == (
        "usd",
        "usd",
        0.0025,
    )
    assert refused.refusal.resets_at == at("2026-01-12T00:00")  # next Monday
    book.settle(first.reservation, used_event("r1", 1000))  # $0.0025: the key's week is spent
    assert not book.check_and_reserve(WHO, "r3", Estimate(1)).admitted
    other_key = Subject(user_id="u1", key_id="k2", model="gpt-4o")
    assert (
        book.check_and_reserve(other_key, "r4", Estimate(1)).admitted is True
    )  # soft: alerts only


def test_an_overage_plan_never_refuses(open_book: OpenBook) -> None:
    book = open_book({"plans": {"hobby": {"tokens": 100, "overage": "allow"}}})
    book.record_tokens("u1", 500)
    assert book.check_and_reserve(WHO, "r1", Estimate(1000)).admitted is True
    summary = book.summary("u1")
    assert (summary["overage"], summary["hasAccess"], summary["remaining"]) == (400, True, 0)


def test_a_reservation_is_capped_and_needs_an_id(open_book: OpenBook) -> None:
    book = open_book({"quotas": {"max_reservation_tokens": 2_000}})
    admission = book.check_and_reserve(WHO, "r1", Estimate(1_000_000))
    assert admission.reservation is not None
    assert admission.reservation.holds[0].tokens == 2_000
    with pytest.raises(ValueError, match="needs the request's id"):
        book.check_and_reserve(WHO, "", Estimate(1))
    estimate = book.estimate("gpt-4o", 1000, 500)
    assert estimate == Estimate(1500, 7_500_000)
    assert book.estimate("no-such-model", 10, 5) == Estimate(15, 0)


def test_stale_reservations_expire(open_book: OpenBook, clock: Clock) -> None:
    book = open_book({"plans": {"hobby": {"tokens": 1000}}, "quotas": {"reservation_seconds": 60}})
    crashed = book.check_and_reserve(WHO, "r1", Estimate(1000))
    assert crashed.reservation is not None
    assert crashed.reservation.expires_at == at("2026-01-10T12:01")
    assert not book.check_and_reserve(WHO, "r2", Estimate(1)).admitted
    clock.advance(seconds=60)
    assert book.held(WHO) == {}  # an expired hold no longer counts
    assert book.expire_reservations() == 1
    assert book.check_and_reserve(WHO, "r3", Estimate(1)).admitted is True
    # A late settle of the expired request still records its usage.
    book.settle(crashed.reservation, used_event("r1", 700))
    assert book.summary("u1")["used"] == 700


@pytest.mark.parametrize("batched", [False, True], ids=["own-transactions", "group-commits"])
def test_sixteen_threads_overrun_by_at_most_one_request(ledger_path: Path, batched: bool) -> None:
    ledger = open_ledger(ledger_path, LIMITED)
    try:
        book = QuotaBook(ledger)  # the real clock: the events are recorded now
        batcher = None
        if batched and not ledger.batches_quotas:
            pytest.skip("this store reserves in transactions of their own")
        if batched:
            batcher = QuotaBatcher(ledger, book)
            ledger.writer.batcher = batcher
        admitted = run_clients(book, "t", clients=16, attempts=8, batcher=batcher)
        assert 40 <= admitted <= 41
        _counters_equal_the_ledger(book, admitted)
    finally:
        ledger.close()


@pytest.mark.parametrize("batched", [False, True], ids=["own-transactions", "group-commits"])
def test_two_processes_on_one_file_overrun_by_at_most_one_request(
    ledger_path: Path, batched: bool
) -> None:
    with open_ledger(ledger_path, LIMITED) as ledger:  # create it (and its tables) once
        if batched and not ledger.batches_quotas:
            pytest.skip("this store reserves in transactions of their own")
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(
            target=process_clients,
            args=(str(ledger_path), LIMITED, name, 8, 6, ready, results, batched),
        )
        for name in ("p1", "p2")
    ]
    for process in processes:
        process.start()
    admitted = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert 40 <= sum(admitted) <= 41
    assert min(admitted) > 0  # both processes took part
    ledger = open_ledger(ledger_path, LIMITED)
    try:
        _counters_equal_the_ledger(QuotaBook(ledger), sum(admitted))
    finally:
        ledger.close()


def _counters_equal_the_ledger(book: QuotaBook, admitted: int) -> None:
    (row,) = book._ledger.aggregate(EventFilter(equals={"user_id": ("u1",)}), [])
    assert row.totals.events == admitted
    assert row.totals.total_tokens == admitted * REQUEST_TOKENS
    assert book.summary("u1")["used"] == admitted * REQUEST_TOKENS
    assert book.held(Subject("u1", key_id="k1")) == {}

"""Reservations and settles as jobs of the ledger writer's group commits (quota/batching.py):
they decide as the per-request transactions do, and the in-memory view never decides on what
another process, or another write of this one, changed since the last commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.quota.admission import Admission, Reservation
from llmledger.quota.batching import AdmitJob, QuotaBatcher, ReleaseJob, SettleJob
from llmledger.quota.service import Estimate, QuotaBook, Subject
from llmledger.writer import BackgroundWriter
from tests.quota.conftest import Clock, open_ledger

PLAN = {"plans": {"hobby": {"tokens": 10_000}}}
WHO = Subject(user_id="u1", key_id="k1", model="gpt-4o")


class Batched:
    """A ledger whose writer batches quota jobs, with a book on a test clock."""

    def __init__(self, ledger: Ledger, clock: Clock) -> None:
        self.ledger = ledger
        self.book = QuotaBook(ledger, clock=clock)
        self.batcher = QuotaBatcher(ledger, self.book)
        ledger.writer.batcher = self.batcher

    def admit(self, request_id: str, tokens: int, who: Subject = WHO) -> Admission:
        job = AdmitJob(who, request_id, Estimate(tokens))
        self.batcher.submit(job)
        return job.future.result(timeout=30)

    def settle(self, reservation: Reservation | None, request_id: str, tokens: int) -> None:
        assert reservation is not None
        event = UsageEvent(
            model="gpt-4o",
            id=request_id,
            ts=self.book.now(),
            source="proxy",
            input_tokens=tokens,
            user_id="u1",
            api_key_id="k1",
        )
        job = SettleJob(event, reservation)
        self.batcher.submit(job)
        job.future.result(timeout=30)


@pytest.fixture
def batched(ledger_path: Path | str, clock: Clock) -> Iterator[Batched]:
    ledger = open_ledger(ledger_path, PLAN)
    try:
        if not ledger.batches_quotas:
            pytest.skip("this store reserves in transactions of their own")
        yield Batched(ledger, clock)
    finally:
        ledger.close()


def test_jobs_hold_settle_and_refuse_as_transactions_do(batched: Batched) -> None:
    first = batched.admit("r1", 6_000)
    assert first.reservation is not None
    assert [h.subject for h in first.reservation.holds] == ["user:u1"]
    assert batched.book.held(WHO) == {"user:u1": 6_000}  # the hold row is in the file
    assert batched.admit("r2", 4_000).reservation is not None  # room was left
    refused = batched.admit("r3", 1)
    assert refused.refusal is not None and refused.refusal.reserved == 10_000
    batched.settle(first.reservation, "r1", 500)  # the real usage replaces the hold
    assert batched.book.held(WHO) == {"user:u1": 4_000}
    assert batched.book.summary("u1")["used"] == 500
    assert batched.admit("r4", 5_500).reservation is not None  # 500 + 9,500 held
    assert batched.admit("r5", 1).refusal is not None
    release = ReleaseJob("r4")
    batched.batcher.submit(release)
    release.future.result(timeout=30)
    assert batched.book.held(WHO) == {"user:u1": 4_000}
    assert batched.admit("r6", 1).reservation is not None


def test_a_lone_request_is_admitted_at_once(batched: Batched) -> None:
    batched.ledger.flush()
    admission = batched.batcher.admit_now(WHO, "r1", Estimate(10_000))
    assert admission is not None and admission.reservation is not None
    assert batched.book.held(WHO) == {"user:u1": 10_000}
    refused = batched.batcher.admit_now(WHO, "r2", Estimate(1))
    assert refused is not None and refused.refusal is not None
    assert refused.refusal.reserved == 10_000


def test_writes_by_others_reach_the_next_admission(
    batched: Batched, ledger_path: Path, clock: Clock
) -> None:
    assert batched.admit("r1", 100).reservation is not None  # the view now knows u1's meter
    # Another process (another connection) records 9,950 tokens for u1...
    with open_ledger(ledger_path, PLAN) as other:
        QuotaBook(other, clock=clock).record_tokens("u1", 9_950, model="gpt-4o")
    refused = batched.admit("r2", 100)  # ...so 100 held + 9,950 used leave no room
    assert refused.refusal is not None and refused.refusal.used == 9_950
    # A write of this process outside the writer (an add-on through the book) counts too.
    batched.book.add_grant(1_000, user_id="u1")
    assert batched.admit("r3", 100).reservation is not None
    # ...and so does a hold another process takes.
    with open_ledger(ledger_path, PLAN) as other:
        held = QuotaBook(other, clock=clock).check_and_reserve(WHO, "r4", Estimate(850))
        assert held.reservation is not None
    assert batched.admit("r5", 100).refusal is not None  # 9,950 + 200 + 850 of 11,000


def test_plain_events_still_go_through_the_writer(batched: Batched) -> None:
    event = UsageEvent(
        model="gpt-4o", id="plain-1", ts=batched.book.now(), input_tokens=700, user_id="u1"
    )
    batched.ledger.submit(event).result(timeout=30)
    assert batched.ledger.get("plain-1") is not None
    assert batched.book.summary("u1")["used"] == 700
    assert batched.admit("r1", 9_300).reservation is not None
    assert batched.admit("r2", 1).refusal is not None


def test_a_failed_group_commit_fails_its_jobs_and_forgets_the_view(batched: Batched) -> None:
    assert batched.admit("r1", 100).reservation is not None
    broken = UsageEvent(model="gpt-4o", id="bad", input_tokens=-5, user_id="u1")
    job = SettleJob(broken, Reservation("r1", WHO, (), batched.book.now()))
    batched.batcher.submit(job)
    with pytest.raises(Exception, match="input_tokens"):
        job.future.result(timeout=30)
    assert batched.book.held(WHO) == {"user:u1": 100}  # rolled back: the hold stays
    assert batched.admit("r2", 9_900).reservation is not None
    assert batched.admit("r3", 1).refusal is not None


def test_jobs_need_a_batcher_and_an_open_writer() -> None:
    writer = BackgroundWriter(lambda events: None)
    job = ReleaseJob("r1")
    writer.submit_job(job)
    with pytest.raises(RuntimeError, match="without a batcher"):
        job.future.result(timeout=30)
    writer.close()
    late = ReleaseJob("r2")
    writer.submit_job(late)
    with pytest.raises(RuntimeError, match="closed"):
        late.future.result(timeout=30)

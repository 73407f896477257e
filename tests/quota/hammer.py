"""Many clients admitting, running and settling requests against one user's limit: threads in
one process, or several processes on one ledger file (importable for multiprocessing)."""

from __future__ import annotations

import random
import threading
import time
from multiprocessing.queues import Queue
from threading import Barrier as BarrierType
from typing import Any

from llmledger.events import UsageEvent
from llmledger.quota.admission import Admission, Reservation
from llmledger.quota.batching import AdmitJob, QuotaBatcher, SettleJob
from llmledger.quota.service import Estimate, QuotaBook, Subject
from tests.quota.conftest import open_ledger

# Each request reserves and then uses exactly this many tokens.
REQUEST_TOKENS = 1_000
LIMITED = {"quotas": {"default_plan": "tiny"}, "plans": {"tiny": {"tokens": 40 * REQUEST_TOKENS}}}


def _event(request_id: str) -> UsageEvent:
    return UsageEvent(
        model="gpt-4o",
        id=request_id,
        source="proxy",
        input_tokens=600,
        output_tokens=REQUEST_TOKENS - 600,
        user_id="u1",
        api_key_id="k1",
    )


class _Cycle:
    """Admit and settle one request: each in a transaction of its own (``QuotaBook``), or as
    jobs of the ledger writer's group commits (``QuotaBatcher``, as the gateway does)."""

    def __init__(self, book: QuotaBook, batcher: QuotaBatcher | None) -> None:
        self.book = book
        self.batcher = batcher
        self.immediate = 0  # admissions made at once (QuotaBatcher.admit_now)

    def admit(self, who: Subject, request_id: str) -> Admission:
        if self.batcher is None:
            return self.book.check_and_reserve(who, request_id, Estimate(REQUEST_TOKENS))
        # As the gateway: at once when the ledger is free this instant, else a writer job.
        found = self.batcher.admit_now(who, request_id, Estimate(REQUEST_TOKENS))
        if found is not None:
            self.immediate += 1
            return found
        job = AdmitJob(who, request_id, Estimate(REQUEST_TOKENS))
        self.batcher.submit(job)
        return job.future.result(timeout=60)

    def settle(self, reservation: Reservation, event: UsageEvent) -> None:
        if self.batcher is None:
            self.book.settle(reservation, event)
            return
        job = SettleJob(event, reservation)
        self.batcher.submit(job)
        job.future.result(timeout=60)


def run_clients(
    book: QuotaBook,
    prefix: str,
    clients: int,
    attempts: int,
    upstream_seconds: float = 0.001,
    batcher: QuotaBatcher | None = None,
) -> int:
    """``clients`` threads, each making ``attempts`` requests (each taking up to
    ``upstream_seconds`` upstream); returns how many were admitted."""
    admitted = 0
    lock = threading.Lock()
    who = Subject(user_id="u1", key_id="k1", model="gpt-4o")
    cycle = _Cycle(book, batcher)

    def client(number: int) -> None:
        nonlocal admitted
        rng = random.Random(number)
        for attempt in range(attempts):
            request_id = f"{prefix}-{number}-{attempt}"
            admission = cycle.admit(who, request_id)
            if admission.reservation is None:
                continue
            with lock:
                admitted += 1
            time.sleep(rng.random() * upstream_seconds)  # the upstream call
            cycle.settle(admission.reservation, _event(request_id))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return admitted


def process_clients(
    path: str,
    raw: dict[str, Any],
    prefix: str,
    clients: int,
    attempts: int,
    ready: BarrierType,
    results: Queue[int],
    batched: bool = False,
) -> None:
    """``run_clients`` on a ledger this process opens itself, once every process is ready
    (``ready``, a multiprocessing Barrier); puts the number admitted on ``results``.
    ``batched``: through the ledger writer's group commits, as the gateway admits."""
    ledger = open_ledger(path, raw)
    try:
        book = QuotaBook(ledger)
        batcher = None
        if batched:
            batcher = QuotaBatcher(ledger, book)
            ledger.writer.batcher = batcher
        ready.wait(timeout=60)
        # Calls of up to 10 ms: the 40 admissions span longer than one process's start-up
        # or scheduling delay, so both processes compete for them.
        admitted = run_clients(
            book, prefix, clients, attempts, upstream_seconds=0.01, batcher=batcher
        )
        results.put(admitted)
    finally:
        ledger.close()

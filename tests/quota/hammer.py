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
from llmledger.quota.service import Estimate, QuotaBook, Subject
from tests.quota.conftest import open_ledger

# Each request reserves and then uses exactly this many tokens.
REQUEST_TOKENS = 1_000
LIMITED = {"quotas": {"default_plan": "tiny"}, "plans": {"tiny": {"tokens": 40 * REQUEST_TOKENS}}}


def run_clients(
    book: QuotaBook, prefix: str, clients: int, attempts: int, upstream_seconds: float = 0.001
) -> int:
    """``clients`` threads, each making ``attempts`` requests (each taking up to
    ``upstream_seconds`` upstream); returns how many were admitted."""
    admitted = 0
    lock = threading.Lock()
    who = Subject(user_id="u1", key_id="k1", model="gpt-4o")

    def client(number: int) -> None:
        nonlocal admitted
        rng = random.Random(number)
        for attempt in range(attempts):
            request_id = f"{prefix}-{number}-{attempt}"
            admission = book.check_and_reserve(who, request_id, Estimate(REQUEST_TOKENS))
            if not admission.admitted:
                continue
            with lock:
                admitted += 1
            time.sleep(rng.random() * upstream_seconds)  # the upstream call
            event = UsageEvent(
                model="gpt-4o",
                id=request_id,
                source="proxy",
                input_tokens=600,
                output_tokens=REQUEST_TOKENS - 600,
                user_id="u1",
                api_key_id="k1",
            )
            book.settle(admission.reservation, event)

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
) -> None:
    """``run_clients`` on a ledger this process opens itself, once every process is ready
    (``ready``, a multiprocessing Barrier); puts the number admitted on ``results``."""
    ledger = open_ledger(path, raw)
    try:
        book = QuotaBook(ledger)
        ready.wait(timeout=60)
        # Calls of up to 10 ms: the 40 admissions span longer than one process's start-up
        # or scheduling delay, so both processes compete for them.
        results.put(run_clients(book, prefix, clients, attempts, upstream_seconds=0.01))
    finally:
        ledger.close()

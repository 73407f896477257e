"""Import agent logs into the ledger, incrementally.

    result = scan(ledger)                      # every known source
    result = scan(ledger, sources=["codex"])   # only these

Each file's cursor (identity, size, mtime, byte offset, parser state) says what was read last
time; only new bytes are parsed (see ``cursors.py``). Parsing runs in worker processes when there
is enough to read (a cold scan), in this process otherwise. Records are de-duplicated by id,
priced with the ledger's price book, and written in batches: each batch's events and the cursors
of the files they came from go to the store in ONE transaction, so a crash never leaves a cursor
past events that were not written (the next scan reads those bytes again; ids make that safe).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from llmledger.bookkeeping import ScanCursor
from llmledger.ledger import Ledger
from llmledger.scan.batches import ScanBatches
from llmledger.scan.cursors import ReadPlan, next_cursor, plan_read
from llmledger.scan.discovery import discover
from llmledger.scan.work import (
    Outcome,
    RowPacking,
    Task,
    packed,
    run_task,
    run_tasks,
    start_worker,
)
from llmledger.sources import registry
from llmledger.sources.base import Fingerprint, Source, SourceFile

if TYPE_CHECKING:  # the pool is imported only when a scan needs it (fast warm runs)
    from concurrent.futures import Future, ProcessPoolExecutor

# Below this much to read, worker processes cost more than they save.
PARALLEL_MIN_BYTES = 24 * 1024 * 1024
# A worker parses at most this much of one file before handing back (bounded memory).
PART_BYTES = 64 * 1024 * 1024
# Files handed to a worker at once, up to this many bytes or files.
GROUP_BYTES = 6 * 1024 * 1024
GROUP_FILES = 64
# Records per ledger batch of a writer thread once no file is left to hand out (see
# ingest.BATCH_RECORDS).
TAIL_BATCH = 4_000

ProgressFn = Callable[[int, int], None]  # (bytes read so far, bytes to read)


class SkippedFile(msgspec.Struct, frozen=True):
    """A file (or, in ``ScanResult.skipped_dirs``, a directory) that could not be read."""

    source: str
    path: str
    reason: str


class SourceSummary(msgspec.Struct):
    files: int = 0
    read: int = 0
    records: int = 0
    malformed: int = 0
    skipped: int = 0


class ScanResult(msgspec.Struct):
    files: int = 0  # files found
    read: int = 0  # files (re)read, in whole or in part
    unchanged: int = 0
    records: int = 0  # usage records parsed (before de-duplication across files)
    written: int = 0  # ledger rows inserted or replaced
    malformed: int = 0  # lines/entries that were not valid records
    bytes: int = 0
    seconds: float = 0.0
    workers: int = 1  # processes that parsed and wrote (the writer process counts as one)
    skipped: list[SkippedFile] = msgspec.field(default_factory=list)
    # Directories that could not be listed: the files in them were not even found.
    skipped_dirs: list[SkippedFile] = msgspec.field(default_factory=list)
    # Files read with malformed entries in them: (source, path, entries skipped).
    malformed_files: list[tuple[str, str, int]] = msgspec.field(default_factory=list)
    sources: dict[str, SourceSummary] = msgspec.field(default_factory=dict)


class _Pending(msgspec.Struct):
    file: SourceFile
    fp: Fingerprint
    plan: ReadPlan
    cursor: ScanCursor | None  # what the store remembered before this scan

    def task(self, offset: int, carry: dict[str, Any] | None, check: str | None) -> Task:
        return Task(
            self.file.source, self.file.path, self.file.kind, offset, carry, check, PART_BYTES
        )

    @property
    def to_read(self) -> int:
        return max(self.fp.size - self.plan.offset, 0)


def _plan(
    sources: list[Source],
    env: Mapping[str, str],
    cursors: dict[str, ScanCursor],
    full: bool,
    result: ScanResult,
) -> list[_Pending]:
    pending: list[_Pending] = []
    seen: set[str] = set()
    for source in sources:
        summary = result.sources.setdefault(source.name, SourceSummary())
        found = discover(source, env)
        for path, reason in found.unreadable.items():
            result.skipped_dirs.append(SkippedFile(source.name, path, reason))
        for file in found.files:
            key = file.path
            if key in seen:
                continue
            seen.add(key)
            summary.files += 1
            result.files += 1
            try:
                fp = source.fingerprint(file.path)
            except OSError as exc:
                reason = (
                    "vanished during the scan" if isinstance(exc, FileNotFoundError) else str(exc)
                )
                result.skipped.append(SkippedFile(source.name, key, reason))
                summary.skipped += 1
                continue
            cursor = cursors.get(key)
            plan = plan_read(file.kind, fp, cursor, full=full)
            if plan is None:
                result.unchanged += 1
                continue
            pending.append(_Pending(file, fp, plan, cursor))
    return pending


def _groups(items: list[_Pending]) -> Iterator[list[_Pending]]:
    """Biggest files first (balances the workers), small ones bundled together."""
    group: list[_Pending] = []
    size = 0
    for item in sorted(items, key=lambda p: p.to_read, reverse=True):
        group.append(item)
        size += item.to_read
        if size >= GROUP_BYTES or len(group) >= GROUP_FILES:
            yield group
            group, size = [], 0
    if group:
        yield group


def _pool(workers: int, packing: RowPacking | None) -> ProcessPoolExecutor:
    """Worker processes; with ``packing`` (a scan process takes priced rows) they pack their
    results as priced rows, when forked (the price book is inherited, never pickled)."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    # fork is the fastest start and safe while this process runs no other thread.
    if "fork" in methods and threading.active_count() == 1:
        method = "fork"
    else:
        method, packing = ("forkserver" if "forkserver" in methods else "spawn"), None
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=start_worker,
        initargs=(packing,),
    )


class _Run:
    """One scan's bookkeeping: what each outcome means for the ledger and the progress bar."""

    def __init__(
        self, ledger: Ledger, result: ScanResult, progress: ProgressFn | None, parallel: bool
    ) -> None:
        self.batches = ScanBatches(ledger, separate_process=parallel)
        self.packing = self.batches.packing
        self.result = result
        self.progress = progress
        self.total = 0
        self.done = 0
        self.previous: dict[str, ScanCursor | None] = {}

    def settle(self, item: _Pending, outcome: Outcome) -> Task | None:
        """Record an outcome; returns the task that continues a file read only in part."""
        result, task = self.result, outcome.task
        summary = result.sources[item.file.source]
        if self.packing is not None and outcome.parsed is not None and not outcome.rows:
            # The scan process takes priced rows: build them here for results that came as
            # records (parsed in this process, or by workers that were not forked).
            outcome = packed(outcome.unpack(), self.packing)
        parsed = outcome.parsed
        if outcome.error is not None or parsed is None:
            result.skipped.append(SkippedFile(task.source, task.path, outcome.error or "failed"))
            summary.skipped += 1
            self._advance(item.to_read)
            return None
        plan = item.plan
        if outcome.restarted:
            plan = ReadPlan(0, None, None, "rewritten")
        elif task.offset != item.plan.offset:
            plan = ReadPlan(task.offset, task.carry, task.check, "continued")
        previous = self.previous.get(task.path, item.cursor)
        count = outcome.records
        cursor = next_cursor(
            task.source, task.path, item.fp, plan, parsed, outcome.check, previous, count
        )
        self.previous[task.path] = cursor
        if task.offset == item.plan.offset:
            summary.read += 1
            result.read += 1
        summary.records += count
        summary.malformed += parsed.malformed
        if parsed.malformed:
            result.malformed_files.append((task.source, task.path, parsed.malformed))
        result.records += count
        result.malformed += parsed.malformed
        read = (
            max(parsed.end_offset - plan.offset, 0) if item.file.kind == "jsonl" else item.to_read
        )
        result.bytes += read
        if self.packing is not None:
            # Priced rows, forwarded as they came: the scan process de-duplicates them.
            self.batches.add_packed(task.source, outcome.packed or b"", count, cursor)
        else:
            outcome.unpack()  # fills parsed.records
            self.batches.add(task.source, parsed.records, cursor)
        if parsed.complete:
            self._advance(read)
            return None
        self._advance(read)
        return item.task(parsed.end_offset, parsed.carry, outcome.check)

    def _advance(self, amount: int) -> None:
        self.done += amount
        if self.progress is not None:
            self.total = max(self.total, self.done)
            self.progress(self.done, self.total)


def _run_serial(run: _Run, items: list[_Pending]) -> None:
    for item in items:
        task: Task | None = item.task(item.plan.offset, item.plan.carry, item.plan.check)
        while task is not None:
            task = run.settle(item, run_task(task))


def _run_parallel(run: _Run, items: list[_Pending], workers: int) -> None:
    from concurrent.futures import FIRST_COMPLETED, wait

    by_path = {item.file.path: item for item in items}
    groups = iter(list(_groups(items)))
    # Groups in flight: enough to keep the workers busy while this process writes a batch,
    # few enough to bound the memory that parsed results waiting here can take.
    window = workers * 4
    with _pool(workers, run.packing) as pool:
        running: set[Future[list[Outcome]]] = set()

        def submit(tasks: list[Task]) -> None:
            running.add(pool.submit(run_tasks, tasks))

        def refill() -> None:
            while len(running) < window:
                group = next(groups, None)
                if group is None:
                    # Everything is handed out: a writer thread writes in small batches from
                    # now on, so the last one (written after parsing ends) is short. The
                    # writer process keeps full ones: it prepares one while writing another,
                    # and smaller batches cost the store more per record.
                    if run.packing is None:
                        run.batches.batch_records = min(run.batches.batch_records, TAIL_BATCH)
                    return
                submit([i.task(i.plan.offset, i.plan.carry, i.plan.check) for i in group])

        refill()
        spare: list[_Pending] | None = None  # a group this process parses itself
        while running:
            # The pool has a core fewer than the machine when a writer process takes one; when
            # that writer has nothing to write (parsing is behind), this process parses too,
            # one group at a time between looks at the workers' results.
            if spare is None and run.batches.starved():
                spare = next(groups, None)
            timeout = 0 if spare is not None else None
            finished, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in finished:
                running.discard(future)
                for outcome in future.result():
                    follow = run.settle(by_path[outcome.task.path], outcome)
                    if follow is not None:
                        submit([follow])
            refill()
            if spare is not None:
                _run_serial(run, spare)
                spare = None


def default_workers() -> int:
    return max(os.cpu_count() or 1, 1)


def scan(
    ledger: Ledger,
    *,
    sources: Iterable[str] | None = None,
    env: Mapping[str, str] | None = None,
    full: bool = False,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> ScanResult:
    """Read what is new in the agents' logs into ``ledger``; returns what happened.

    ``full`` re-reads every file from the start (safe: ids de-duplicate). ``workers`` caps the
    processes that parse and write (default: one per core; a writer process, when there is
    one, counts as one of them); 1 parses in this process.
    """
    started = time.perf_counter()
    env = os.environ if env is None else env
    result = ScanResult()
    # Cursors, the files' plans and parsed records are plain objects without cycles: the
    # cyclic collector would only walk them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        selected = registry.select(sources)
        cursors = ledger.scan_cursors()
        items = _plan(selected, env, cursors, full, result)
        total = sum(item.to_read for item in items)
        workers = default_workers() if workers is None else max(workers, 1)
        parallel = workers > 1 and len(items) > 1 and total >= PARALLEL_MIN_BYTES
        run = _Run(ledger, result, progress, parallel)
        run.total = total
        try:
            if parallel:
                # The writer process is busy from the first batch to the last (on a cold scan
                # it is the longest single task): it gets a core of its own, the workers the
                # rest.
                writer = 1 if run.packing is not None else 0
                pool = max(min(workers - writer, len(items)), 1)
                result.workers = pool + writer
                _run_parallel(run, items, pool)
            else:
                _run_serial(run, items)
            run.batches.close()
            result.written = run.batches.written
        finally:
            run.batches.abort()
    finally:
        if collecting:
            gc.enable()
    result.seconds = time.perf_counter() - started
    return result

"""A scan's records into the ledger: de-duplicated, priced, in batches, each batch's events
and the cursors of the files they came from in ONE transaction (``Ledger.write_scan``).

The write runs in the background while the scan goes on collecting the next batch: in a
thread (SQLite releases the GIL while it works), or for a big scan in a process of its own
when the ledger's store offers one (``Ledger.scan_process``), which is handed the workers'
packed rows as they came and de-duplicates them itself. At most one batch is being written at
a time, and a failed write is raised to the scan at its next flush or at ``close``.
"""

from __future__ import annotations

import threading

from llmledger.bookkeeping import ScanCursor, ScanProcess
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.scan.work import RowPacking
from llmledger.sources.base import Record, events_to_write, keep_best

# Records written per transaction: small enough that writing keeps pace with parsing (and the
# last batch, written after parsing ends, is short), big enough that commits stay cheap.
BATCH_RECORDS = 10_000
# The first batches are smaller, growing twofold up to BATCH_RECORDS: the ledger starts on the
# first records sooner instead of waiting while the workers parse a full batch.
FIRST_BATCH = 1_250
# While the scan process is busy, a due batch keeps growing instead of the scan waiting for
# it (waiting would leave the workers without new files); up to this many records.
MAX_PENDING = 50_000
# A batch sent to the scan process takes every record pending, up to this many: while the
# scan process is behind, records pile up and go as one transaction instead of several. Random ids
# (message ids) land all over the ledger's id index and every commit rewrites each index page
# it touched, so fewer, larger commits write the same pages fewer times.
LARGEST_BATCH = 40_000


class ScanBatches:
    """Collects parsed records and cursors; writes them to the ledger in batches."""

    def __init__(
        self, ledger: Ledger, batch_records: int | None = None, *, separate_process: bool = False
    ) -> None:
        self.ledger = ledger
        self._process: ScanProcess | None = ledger.scan_process() if separate_process else None
        self.batch_records = batch_records or BATCH_RECORDS
        self._next_batch = min(FIRST_BATCH, self.batch_records)
        self.records: dict[str, dict[str, Record]] = {}
        # For the scan process, in order: (source, packed records, how many, file cursor).
        self._entries: list[tuple[str, bytes, int, ScanCursor]] = []
        self.count = 0
        self.cursors: list[ScanCursor] = []
        self.written = 0  # rows the store inserted or replaced
        # Rank of every id written by an earlier batch of this scan: a copy that does not beat
        # it (a sidechain replay of a call already written, or an equal copy from a resumed
        # session: same tokens, nothing to correct) is not written again. Rewriting a stored id
        # makes the store redo that insert statement row by row.
        self.written_rank: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def packing(self) -> RowPacking | None:
        """How workers pack records for the scan process (None: hand records to ``add``)."""
        if self._process is None:
            return None
        return RowPacking(self._process.pack, self.ledger.prices, self.ledger.host)

    def starved(self) -> bool:
        """True when the scan process has written every batch it was sent."""
        return self._process is not None and self._process.starved()

    def add(self, source: str, records: list[Record], cursor: ScanCursor) -> None:
        """Records written from this process (with a scan process: ``add_packed``)."""
        assert self._process is None
        bucket = self.records.setdefault(source, {})
        before = len(bucket)
        if self.written_rank:
            ranks = self.written_rank
            records = [r for r in records if r.rank > ranks.get(r.id, -1)]
        keep_best(records, bucket)
        self.count += len(bucket) - before
        self._added(cursor)

    def add_packed(self, source: str, packed: bytes, count: int, cursor: ScanCursor) -> None:
        """The rows of ``count`` records, packed by the ledger's ``scan_process().pack``, for
        that process (which de-duplicates)."""
        self._entries.append((source, packed, count, cursor))
        self.count += count
        assert self._process is not None
        # Send while a batch is due and the scan process takes one; while it is busy the batch
        # grows (waiting here would leave the workers without files), up to MAX_PENDING.
        while self._entries and self.count >= min(self._next_batch, self.batch_records):
            if self._process.busy() and self.count < MAX_PENDING:
                return
            self._next_batch *= 2
            self._send_oldest(max(self.batch_records, LARGEST_BATCH))

    def _send_oldest(self, limit: int | None = None) -> None:
        """Send the oldest entries, up to ``limit`` records (default ``batch_records``; at
        least one entry), with their files' cursors, as one batch."""
        assert self._process is not None
        limit = limit or self.batch_records
        take = size = 0
        for entry in self._entries:
            if take and size + entry[2] > limit:
                break
            take += 1
            size += entry[2]
        batch = self._entries[:take]
        del self._entries[:take]
        self.count -= size
        packed = [blob for _, blob, count, _ in batch if count]
        self.written += self._process.submit(packed, [entry[3] for entry in batch])

    def _added(self, cursor: ScanCursor) -> None:
        self.cursors.append(cursor)
        if self.count >= min(self._next_batch, self.batch_records):
            self._next_batch *= 2
            self.flush()

    def flush(self) -> None:
        """Hand the collected batch to the store (in the background): to the scan process
        in batches of at most ``batch_records`` (it prepares one while writing another)."""
        while self._entries:
            self._send_oldest()
        if not self.cursors:
            return
        replaced: set[str] = set()
        events = events_to_write(self.records, self.written_rank, replaced)
        cursors = self.cursors
        self.records, self.count, self.cursors = {}, 0, []
        self._join()
        self._thread = threading.Thread(
            target=self._save,
            args=(events, cursors, replaced),
            name="llmledger-scan-batch",
            daemon=True,
        )
        self._thread.start()

    def _save(
        self, events: list[UsageEvent], cursors: list[ScanCursor], replaced: set[str]
    ) -> None:
        try:
            self.written += self.ledger.write_scan(events, cursors, replaced)
        except BaseException as exc:  # raised in the scanning thread by _join
            self._failure = exc

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def close(self) -> None:
        """Write what is left and wait until it is in the ledger."""
        self.flush()
        self._join()
        if self._process is not None:
            process, self._process = self._process, None
            self.written += process.close()

    def abort(self) -> None:
        """After a failed scan: stop the scan process, if any (what it wrote stays: every
        batch is a complete transaction)."""
        if self._process is not None:
            process, self._process = self._process, None
            process.abort()

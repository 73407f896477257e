"""One unit of scan work: parse one file from an offset, in this process or a worker process.

Everything that can go wrong with one file (it vanished, is unreadable, is a locked or corrupt
database, or its parser hit something unexpected) becomes an ``Outcome`` with an ``error``: the
file is skipped and counted, the scan goes on, and none of that file's events are written.
"""

from __future__ import annotations

import gc
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from llmledger.events import UsageEvent
from llmledger.orphans import exit_with_parent
from llmledger.scan.cursors import CHECK_BYTES
from llmledger.sources.base import (
    FileKind,
    FileParse,
    Record,
    keep_best,
    to_event,
    without_unstorable,
)
from llmledger.sources.registry import get_source

if TYPE_CHECKING:
    from llmledger.pricing.book import PriceBook

_encode_records = msgspec.msgpack.Encoder().encode
_decode_records = msgspec.msgpack.Decoder(list[Record]).decode


class RowPacking(msgspec.Struct, frozen=True):
    """How a worker turns a file's records into the rows a ledger's scan process takes: the
    ledger's price book and the store's packing function (``Ledger.scan_process().pack``)."""

    pack: Callable[[Sequence[UsageEvent], Sequence[int]], bytes]
    prices: PriceBook
    host: str | None = None  # the ledger's (Ledger.host): these rows bypass the Ledger

    def __call__(self, records: list[Record], source: str) -> bytes:
        best = keep_best(records)  # of copies of an id, the best ranked
        events = [to_event(record, source) for record in best.values()]
        if self.host:
            for event in events:
                event.host = self.host
        self.prices.price_events(events)
        return self.pack(events, [record.rank for record in best.values()])


# Set in a worker process whose results go to the ledger's scan process: results are then
# packed as priced rows instead of records.
_packing: RowPacking | None = None


def start_worker(packing: RowPacking | None) -> None:
    """Pool initializer: end with the scan, and pack results as rows (None: as records)."""
    global _packing
    _packing = packing
    exit_with_parent()


class Task(msgspec.Struct, frozen=True):
    source: str
    path: str
    kind: FileKind
    offset: int
    carry: dict[str, Any] | None
    check: str | None  # hex of the bytes expected just before ``offset``
    budget: int


class Outcome(msgspec.Struct):
    task: Task
    parsed: FileParse | None
    check: str | None = None  # hex of the bytes just before ``parsed.end_offset``
    restarted: bool = False  # the bytes before the offset changed: read from the start
    error: str | None = None
    packed: bytes | None = None  # ``parsed.records`` as MessagePack, between processes
    count: int = 0  # how many records ``packed`` holds
    rows: bool = False  # ``packed`` holds priced rows (``RowPacking``), not records

    def pack(self, packing: RowPacking | None = None) -> Outcome:
        """Move the records into ``packed``: MessagePack crosses a process boundary about
        ten times cheaper than pickled named tuples. With ``packing``, as priced rows."""
        if self.parsed is not None and self.parsed.records:
            records = self.parsed.records
            if packing is not None:
                self.packed, self.rows = packing(records, self.task.source), True
            else:
                self.packed = _encode_records(records)
            self.count = len(records)
            self.parsed.records = []
        return self

    @property
    def records(self) -> int:
        """Records parsed, packed or not."""
        if self.packed is not None:
            return self.count
        return len(self.parsed.records) if self.parsed is not None else 0

    def unpack(self) -> Outcome:
        if self.rows:
            raise ValueError("rows packed for the writer process cannot be unpacked")
        if self.packed is not None and self.parsed is not None:
            self.parsed.records = _decode_records(self.packed)
            self.packed, self.count = None, 0
        return self


def _bytes_before(path: str, offset: int) -> bytes | None:
    if offset <= 0:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        start = max(offset - CHECK_BYTES, 0)
        return os.pread(fd, offset - start, start)
    finally:
        os.close(fd)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "vanished during the scan"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (OSError, sqlite3.Error)):
        return text
    return f"unexpected {type(exc).__name__}: {text}"


def run_task(task: Task) -> Outcome:
    source = get_source(task.source)
    path = Path(task.path)
    offset, carry, restarted = task.offset, task.carry, False
    try:
        if offset and task.check is not None:
            before = _bytes_before(task.path, offset)
            if before is None or before.hex() != task.check:
                offset, carry, restarted = 0, None, True
        parsed = without_unstorable(source.parse(path, offset, carry, task.budget))
        check = None
        if task.kind == "jsonl" and parsed.end_offset > 0:
            before = _bytes_before(task.path, parsed.end_offset)
            check = before.hex() if before else None
    except Exception as exc:  # one bad file must never stop the scan
        return Outcome(task, None, error=_describe(exc))
    return Outcome(task, parsed, check, restarted)


def packed(outcome: Outcome, packing: RowPacking | None) -> Outcome:
    """``outcome.pack(packing)``; a file whose records cannot be packed (e.g. one the store
    would reject) becomes a failed outcome: that file is skipped, the scan goes on."""
    try:
        return outcome.pack(packing)
    except Exception as exc:
        return Outcome(outcome.task, None, error=_describe(exc))


def run_tasks(tasks: list[Task]) -> list[Outcome]:
    """A group of tasks (what a worker process is handed at once), results packed."""
    collecting = gc.isenabled()
    gc.disable()  # parsers build many small acyclic objects
    try:
        return [packed(run_task(task), _packing) for task in tasks]
    finally:
        if collecting:
            gc.enable()

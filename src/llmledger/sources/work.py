"""One unit of scan work: parse one file from an offset, in this process or a worker process.

Everything that can go wrong with one file (it vanished, is unreadable, is a locked or corrupt
database, or its parser hit something unexpected) becomes an ``Outcome`` with an ``error``: the
file is skipped and counted, the scan goes on, and none of that file's events are written.
"""

from __future__ import annotations

import gc
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import FileKind, FileParse, Record
from llmledger.sources.cursors import CHECK_BYTES
from llmledger.sources.registry import get_source

_encode_records = msgspec.msgpack.Encoder().encode
_decode_records = msgspec.msgpack.Decoder(list[Record]).decode


@dataclass(frozen=True)
class Task:
    source: str
    path: str
    kind: FileKind
    offset: int
    carry: dict[str, Any] | None
    check: str | None  # hex of the bytes expected just before ``offset``
    budget: int


@dataclass
class Outcome:
    task: Task
    parsed: FileParse | None
    check: str | None = None  # hex of the bytes just before ``parsed.end_offset``
    restarted: bool = False  # the bytes before the offset changed: read from the start
    error: str | None = None
    packed: bytes | None = None  # ``parsed.records`` as MessagePack, between processes
    count: int = 0  # how many records ``packed`` holds

    def pack(self) -> Outcome:
        """Move the records into ``packed``: MessagePack crosses a process boundary about
        ten times cheaper than pickled named tuples."""
        if self.parsed is not None and self.parsed.records:
            self.packed = _encode_records(self.parsed.records)
            self.count = len(self.parsed.records)
            self.parsed.records = []
        return self

    @property
    def records(self) -> int:
        """Records parsed, packed or not."""
        if self.packed is not None:
            return self.count
        return len(self.parsed.records) if self.parsed is not None else 0

    def unpack(self) -> Outcome:
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
        parsed = source.parse(path, offset, carry, task.budget)
        check = None
        if task.kind == "jsonl" and parsed.end_offset > 0:
            before = _bytes_before(task.path, parsed.end_offset)
            check = before.hex() if before else None
    except Exception as exc:  # one bad file must never stop the scan
        return Outcome(task, None, error=_describe(exc))
    return Outcome(task, parsed, check, restarted)


def run_tasks(tasks: list[Task]) -> list[Outcome]:
    """A group of tasks (what a worker process is handed at once), results packed."""
    collecting = gc.isenabled()
    gc.disable()  # parsers build many small acyclic objects
    try:
        return [run_task(task).pack() for task in tasks]
    finally:
        if collecting:
            gc.enable()

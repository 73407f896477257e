"""Reading JSON Lines logs fast and in bounded memory.

A file is read from a byte offset in fixed-size blocks; only lines that contain one of a
source's marker strings (e.g. ``"usage"``) are handed to its decoder, the rest are never
decoded. Memory is bounded by the block size plus the longest line. ``end_offset`` always
stops after a complete line, so the next incremental read starts on a line boundary.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec

BLOCK_SIZE = 8 * 1024 * 1024
# A "line" longer than this is not a log record: skip it (counted as malformed) instead of
# holding it in memory.
MAX_LINE = 256 * 1024 * 1024

_generic_decode = msgspec.json.Decoder().decode
_buffers = threading.local()  # this thread's read buffer (readers never interleave in one)


def _buffer(size: int) -> bytearray:
    buf: bytearray | None = getattr(_buffers, "buf", None)
    if buf is None or len(buf) != size:
        buf = _buffers.buf = bytearray(size)
    return buf


def marker_pattern(*markers: bytes) -> re.Pattern[bytes]:
    return re.compile(b"|".join(re.escape(m) for m in markers))


class JsonlReader:
    """Candidate lines of one file from ``offset``, at most about ``budget`` bytes.

    Iterate ``lines()``; afterwards ``end_offset`` is where the next read starts, ``complete``
    says whether the end of the file was reached, ``oversized`` counts skipped giant lines and
    ``tail`` holds an unterminated last line (``accept_tail`` moves past it once it proved to
    be a whole record).
    """

    def __init__(
        self,
        path: Path,
        offset: int,
        pattern: re.Pattern[bytes],
        budget: int,
        block_size: int | None = None,
    ) -> None:
        self.path = path
        self.start = offset
        self.pattern = pattern
        self.budget = max(budget, 1)
        self.block_size = block_size or BLOCK_SIZE
        self.end_offset = offset
        self.complete = False
        self.oversized = 0
        self.tail: bytes | None = None
        self._tail_end = offset
        self.first_line: bytes | None = None  # the file's first line, when reading from 0

    def lines(self) -> Iterator[bytes]:
        position = self.start  # file offset just after the last complete line handled
        parts: list[bytes] = []  # the unfinished line, begun in earlier blocks
        pending = 0  # its length
        skipping = False  # inside an oversized line: drop bytes until its newline
        search = self.pattern.search
        # Blocks are read into one reused buffer: a fresh 8 MB bytes object per read costs
        # more in page faults than the read itself. Lines handed out are copies.
        buf = _buffer(self.block_size)
        view = memoryview(buf)
        with open(self.path, "rb", buffering=0) as handle:
            handle.seek(self.start)
            while True:
                size = handle.readinto(buf)
                if not size:
                    break
                first = buf.find(b"\n", 0, size)
                if first == -1:  # the whole block belongs to the unfinished line
                    if skipping:
                        position += size
                        continue
                    parts.append(bytes(view[:size]))
                    pending += size
                    if pending > MAX_LINE:
                        self.oversized += 1
                        position += pending
                        parts, pending, skipping = [], 0, True
                    continue
                if skipping:
                    skipping = False
                else:  # the unfinished line ends at ``first``
                    line = b"".join((*parts, view[:first])) if parts else bytes(view[:first])
                    if self.first_line is None and position == 0:
                        self.first_line = line
                    if search(line):
                        yield line
                position += pending + first + 1
                parts, pending = [], 0
                # Whole lines in the block are searched in place.
                last = buf.rfind(b"\n", 0, size)
                if last > first:
                    yield from self._candidates(buf, view, first + 1, last + 1)
                    position += last - first
                if last + 1 < size:
                    parts.append(bytes(view[last + 1 : size]))
                    pending = size - last - 1
                self.end_offset = position
                if position - self.start >= self.budget:
                    return
        self.complete = True
        self.end_offset = position
        rest = b"".join(parts)
        if rest.strip():
            self.tail = rest
            self._tail_end = position + len(rest)
            if self.first_line is None and position == 0:
                self.first_line = rest
        else:
            self.end_offset = position + len(rest)

    def _candidates(
        self, buf: bytearray, view: memoryview, begin: int, end: int
    ) -> Iterator[bytes]:
        """Lines of ``buf[begin:end]`` (whole lines, ``end`` just after a newline) that
        contain a marker."""
        search = self.pattern.search
        found = search(buf, begin, end)
        while found is not None:
            hit = found.start()
            before = buf.rfind(b"\n", begin, hit)
            line_start = before + 1 if before >= 0 else begin
            line_end = buf.find(b"\n", hit, end)
            yield bytes(view[line_start:line_end])
            found = search(buf, line_end + 1, end)

    def candidates(self) -> Iterator[bytes]:
        """``lines()``, then an unterminated last line once it is whole JSON (its writer
        finished it: the read moves past it) and holds a marker."""
        yield from self.lines()
        if self.tail is not None and self.tail_is_record():
            tail = self.tail
            self.accept_tail()
            if self.pattern.search(tail):
                yield tail

    def tail_is_record(self) -> bool:
        """True when the unterminated last line is complete JSON (its writer finished it)."""
        if self.tail is None:
            return False
        try:
            _generic_decode(self.tail)
        except msgspec.DecodeError:
            return False
        return True

    def accept_tail(self) -> None:
        self.end_offset = self._tail_end
        self.tail = None

"""Deciding what to read of a file, given what the last scan remembered of it (its cursor).

* Unchanged identity, size and mtime: nothing to read.
* Same file grown (JSON Lines): read from the remembered offset, with the parser's carried
  state. The bytes just before that offset are remembered too; if they differ the file was
  rewritten in place and is read again from the start.
* A different inode, or shorter than the offset: replaced or truncated, read from the start.
* Documents (one JSON object) are re-read whole whenever they change; databases are re-read
  with their carried mark (e.g. the last ``time_updated`` seen).

Re-reading is always safe: event ids make a second copy of an event replace the first.
"""

from __future__ import annotations

from typing import Any

import msgspec

from llmledger.bookkeeping import ScanCursor
from llmledger.sources.base import FileKind, FileParse, Fingerprint

# How many bytes before the offset are remembered to detect in-place rewrites.
CHECK_BYTES = 32


class ReadPlan(msgspec.Struct, frozen=True):
    offset: int
    carry: dict[str, Any] | None  # the parser's state to resume with
    check: str | None  # hex of the bytes just before ``offset``, to verify before reading
    reason: str  # new, appended, changed, replaced, truncated, full


def parser_carry(cursor: ScanCursor | None) -> dict[str, Any] | None:
    if cursor is None or not cursor.carry:
        return None
    value = cursor.carry.get("parser")
    return value if isinstance(value, dict) else None


def _check(cursor: ScanCursor) -> str | None:
    value = (cursor.carry or {}).get("check")
    return value if isinstance(value, str) else None


def plan_read(
    kind: FileKind, fp: Fingerprint, cursor: ScanCursor | None, *, full: bool = False
) -> ReadPlan | None:
    """What to read now, or None when the file is as the last scan left it."""
    if cursor is None:
        return ReadPlan(0, None, None, "new")
    if full:
        return ReadPlan(0, None, None, "full")
    same_file = cursor.device == fp.device and cursor.inode == fp.inode
    if same_file and cursor.size == fp.size and cursor.mtime_ns == fp.mtime_ns:
        return None
    if kind == "document":  # re-read whole; a rewrite by rename is still the same document
        return ReadPlan(0, parser_carry(cursor), None, "changed" if same_file else "replaced")
    if not same_file:
        return ReadPlan(0, None, None, "replaced")
    if kind == "sqlite":
        return ReadPlan(0, parser_carry(cursor), None, "changed")
    if fp.size < cursor.offset:
        return ReadPlan(0, None, None, "truncated")
    return ReadPlan(cursor.offset, parser_carry(cursor), _check(cursor), "appended")


def next_cursor(
    source: str,
    path: str,
    fp: Fingerprint,
    plan: ReadPlan,
    parsed: FileParse,
    check: str | None,
    previous: ScanCursor | None,
    records: int | None = None,
) -> ScanCursor:
    """The cursor to store once ``parsed`` (read as ``plan`` said) is in the ledger.
    ``records`` counts the records read when they are not in ``parsed`` (still packed)."""
    continuing = previous is not None and plan.offset > 0
    read = len(parsed.records) if records is None else records
    events = read + (previous.events if continuing and previous else 0)
    malformed = parsed.malformed + (previous.malformed if continuing and previous else 0)
    carry: dict[str, Any] = {}
    if parsed.carry:
        carry["parser"] = parsed.carry
    if check:
        carry["check"] = check
    return ScanCursor(
        path=path,
        source=source,
        device=fp.device,
        inode=fp.inode,
        # A file read only in part (byte budget) must look changed to the next scan.
        size=fp.size if parsed.complete else -1,
        mtime_ns=fp.mtime_ns,
        offset=parsed.end_offset,
        carry=carry or None,
        events=events,
        malformed=malformed,
    )

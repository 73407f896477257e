"""The ``scan_files`` table (where a scan stopped in each file: bookkeeping.py
``ScanCursor``), read and turned into rows the same way by the SQLite and PostgreSQL stores;
only their upsert statements differ."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from llmledger.bookkeeping import ScanCursor
from llmledger.store.sql import QueryConnection

__all__ = ["read_scan_cursors", "scan_file_rows"]

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode

# "offset" is a keyword in PostgreSQL; quoted, SQLite reads it as the column too.
_SELECT = (
    'SELECT path, source, device, inode, size, mtime_ns, "offset", carry, events, malformed '
    "FROM scan_files"
)


def read_scan_cursors(conn: QueryConnection) -> dict[str, ScanCursor]:
    """Every stored cursor by its file's path (every report's scan reads them all)."""
    return {row[0]: _cursor(*row) for row in conn.execute(_SELECT).fetchall()}


def _cursor(
    path: str,
    source: str,
    device: int | None,
    inode: int | None,
    size: int,
    mtime_ns: int,
    offset: int,
    carry: str | None,
    events: int,
    malformed: int,
) -> ScanCursor:
    decoded = _json_decode(carry) if carry else None
    return ScanCursor(
        path, source, device, inode, size, mtime_ns, offset, decoded, events, malformed
    )


def scan_file_rows(cursors: Sequence[ScanCursor], scanned_at: int) -> list[tuple[object, ...]]:
    """The cursors' rows: path, source, device, inode, size, mtime_ns, offset, carry, events,
    malformed, scanned_at."""
    return [
        (
            c.path,
            c.source,
            c.device,
            c.inode,
            c.size,
            c.mtime_ns,
            c.offset,
            _json_encode(c.carry).decode() if c.carry else None,
            c.events,
            c.malformed,
            scanned_at,
        )
        for c in cursors
    ]

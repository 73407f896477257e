"""``push``: a local SQLite ledger's new events into a shared ledger, incrementally.

"New" is by insertion order, not time: the cursor is the SQLite rowid of the last event sent,
kept per destination in the local ``meta`` (``push:<destination>``), so events imported later
with old timestamps (a scan of an old log, an ``import``) still go. A replaced copy of an id
(more tokens) is a new row and goes again. Each batch is written to the destination before the
cursor moves: an interrupted push sends that batch again on the next run, and the
destination's ids (``ON CONFLICT``; a larger copy replaces a smaller) make a re-sent or
overlapping event count once. Each run re-sends the last event it sent before: SQLite gives a
new row the largest rowid plus one, so a replaced copy of the newest row reuses its rowid.
Costs go as stored (never re-priced).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llmledger.errors import StoreError
from llmledger.events import UsageEvent
from llmledger.store.base import Store
from llmledger.store.sqlite import SQLiteStore

BATCH = 5_000


@dataclass
class PushResult:
    sent: int = 0  # events read from the local ledger and sent
    written: int = 0  # rows the destination stored (new ids and larger copies)
    cursor: int = 0  # the local rowid the next push starts from
    target: str = ""  # the destination's location (no password)


def cursor_key(target: Store) -> str:
    return f"push:{target.location}"


def push_events(
    source: Store,
    target: Store,
    *,
    prepare: Callable[[list[UsageEvent]], None] | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> PushResult:
    """Send ``source``'s events stored since the last push to ``target`` (``prepare`` runs on
    each batch first, e.g. giving host-less events this machine's host)."""
    if not isinstance(source, SQLiteStore) or source.path is None:
        raise StoreError(
            f"push sends a local SQLite ledger's events; {source.location} is not one "
            "(to move a whole ledger use `llmledger db copy`)"
        )
    if source.location == target.location:
        raise StoreError(f"push needs another ledger to send to, not {source.location} itself")
    key = cursor_key(target)
    stored = source.get_meta(key)
    result = PushResult(cursor=int(stored) if stored else 0, target=target.location)
    first = result.cursor
    while True:
        rows = source.events_from_row(first, batch)
        if not rows:
            break
        events = [event for _, event in rows]
        if prepare is not None:
            prepare(events)
        result.written += target.write_events(events)
        result.cursor = rows[-1][0]
        source.set_meta(key, str(result.cursor))  # only once the destination committed
        result.sent += len(rows)
        if progress is not None:
            progress(result.sent)
        if len(rows) < batch:
            break
        first = result.cursor + 1
    return result

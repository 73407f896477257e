"""A scan's priced events as ledger rows, packed where they were parsed.

On a big scan the scan process (scan_process.py) is the longest single task, so the work that
needs no global view moves to the processes that parse: building the events' store rows
(``rows.py``). What crosses to the scan process is MessagePack of the row groups, each row with
its dedup rank; it only de-duplicates across files and batches (``batch_rows``) and inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from llmledger.events import UsageEvent
from llmledger.store.rows import GroupKey, Rows, build_rows, width

# One group of a file's rows: its key, the rows' values one after another, each row's rank.
PackedGroup = tuple[GroupKey, list[Any], list[int]]

_encode = msgspec.msgpack.Encoder().encode
_decode_groups = msgspec.msgpack.Decoder(list[PackedGroup]).decode


def pack_rows(events: Sequence[UsageEvent], ranks: Sequence[int]) -> bytes:
    """Priced ``events`` (one copy per id) with their dedup ranks, as packed row groups."""
    rank_of = {event.id: rank for event, rank in zip(events, ranks)}
    groups: list[PackedGroup] = []
    for key, flat in build_rows(events).groups.items():
        groups.append((key, flat, [rank_of[event_id] for event_id in flat[:: width(key.mask)]]))
    return _encode(groups)


def batch_rows(packed: list[bytes], written: dict[str, int], replaced: set[str]) -> Rows:
    """One batch's rows: of the copies of an id, the best (highest rank, on a tie the later
    one), and none that does not beat a copy an earlier batch wrote (``written``: id -> rank,
    updated here). Ids whose earlier copy is beaten go into ``replaced``: the store must replace
    that copy whatever its tokens (a primary copy over a sidechain replay)."""
    # id -> (rank, group key, the group's values, where the row starts in them)
    best: dict[str, tuple[int, GroupKey, list[Any], int]] = {}
    widths: dict[int, int] = {}
    for blob in packed:
        for key, flat, ranks in _decode_groups(blob):
            mask = key.mask
            n = widths.get(mask) or widths.setdefault(mask, width(mask))
            start = 0
            for rank in ranks:
                event_id = flat[start]
                if rank > written.get(event_id, -1):
                    seen = best.get(event_id)
                    if seen is None or rank >= seen[0]:
                        best[event_id] = (rank, key, flat, start)
                start += n
    groups: dict[GroupKey, list[Any]] = {}
    for event_id, (rank, key, flat, start) in best.items():
        if event_id in written:
            replaced.add(event_id)
        written[event_id] = rank
        values = flat[start : start + widths[key.mask]]
        group = groups.get(key)
        if group is None:
            groups[key] = values
        else:
            group += values
    return Rows(groups, len(best))

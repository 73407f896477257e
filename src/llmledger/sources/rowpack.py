"""Parsed records as priced ledger rows, packed where they were parsed.

On a big scan the writer process is the longest single task, so the work that needs no global
view moves to the processes that parse: turning a file's records into events, pricing them and
building their store rows (``store/rows.py``). What crosses to the writer is MessagePack of the
row groups, each row with its dedup rank; the writer only de-duplicates across files and
batches (``batch_rows``) and inserts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from llmledger.sources.base import Record, keep_best, to_event
from llmledger.store.rows import GroupKey, Rows, build_rows, width

if TYPE_CHECKING:
    from llmledger.pricing.book import PriceBook

# One group of a file's rows: its key, the rows' values one after another, each row's rank.
PackedGroup = tuple[GroupKey, list[Any], list[int]]

_encode = msgspec.msgpack.Encoder().encode
_decode_groups = msgspec.msgpack.Decoder(list[PackedGroup]).decode


def pack_rows(records: list[Record], source: str, prices: PriceBook) -> bytes:
    """``records`` of one source as priced rows (of copies of an id, the best ranked)."""
    best = keep_best(records)
    events = [to_event(record, source) for record in best.values()]
    prices.price_events(events)
    groups: list[PackedGroup] = []
    for key, flat in build_rows(events).groups.items():
        ranks = [best[event_id].rank for event_id in flat[:: width(key[5])]]
        groups.append((key, flat, ranks))
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
            mask = key[5]
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
        values = flat[start : start + widths[key[5]]]
        group = groups.get(key)
        if group is None:
            groups[key] = values
        else:
            group += values
    return Rows(groups, len(best))

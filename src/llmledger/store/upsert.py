"""Writing built rows (``rows.Rows``) inside an open SQLite transaction: the multi-row inserts,
what happens when an id is stored already, and the rollup sums that keep reports exact."""

from __future__ import annotations

import itertools
import operator
import sqlite3
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from llmledger.query import Totals
from llmledger.store import rollup
from llmledger.store.rows import (
    Rows,
    StatementKey,
    constants,
    in_id_order,
    insert_sql,
    row_total,
    width,
)
from llmledger.store.sql import totals_from_row

_ROWS_PER_STATEMENT = 50


class _Conflicts:
    """What to do with rows whose id is stored already: replace the stored copy when the row
    has more tokens (a later streaming copy) or its id is in ``force``; else the id goes to
    ``lost``. An equal copy never replaces: the first one stored keeps its time and session
    (a sidechain or side-question replay of a call stays where the call was made)."""

    __slots__ = ("force", "lost")

    def __init__(self, force: AbstractSet[str]) -> None:
        self.force = force
        self.lost: set[str] = set()  # ids whose stored copy stays: not written

    def settle(
        self, conn: sqlite3.Connection, mask: int, values: Sequence[Any], fixed: list[Any]
    ) -> None:
        """Replace the stored copy of this row's id, taking the old copy out of the rollup
        (the caller adds the new one), or note the id as lost."""
        event_id = values[0]
        old = conn.execute(rollup.OLD_ROW_SQL, (event_id,)).fetchone()
        larger = row_total(mask, values) > sum(old[5:10]) if old is not None else False
        if old is None or (event_id not in self.force and not larger):
            self.lost.add(event_id)
            return
        conn.execute("DELETE FROM events WHERE id = ?", (event_id,))
        conn.execute(insert_sql(mask), [*values, *fixed])
        conn.execute(rollup.ADD_ROW_SQL, rollup.row_contribution(old, -1))


def _insert_one_by_one(
    conn: sqlite3.Connection,
    mask: int,
    params: list[Any],
    fixed: list[Any],
    conflicts: _Conflicts,
) -> None:
    """Insert rows one statement each; a row whose id is stored goes to ``conflicts``."""
    one = insert_sql(mask)
    n = width(mask)
    for begin in range(0, len(params), n):
        values = params[begin : begin + n]
        try:
            conn.execute(one, values + fixed)
        except sqlite3.IntegrityError:
            conflicts.settle(conn, mask, values, fixed)


def _insert(
    conn: sqlite3.Connection, mask: int, params: list[Any], fixed: list[Any], conflicts: _Conflicts
) -> None:
    """Insert rows of one mask and group constants: 50 to a statement, the rest in statements
    of 32, 16, … 1 rows (few distinct statements, all cached). A statement that hits a stored
    id is redone row by row."""
    n = width(mask)
    begin = 0
    while begin < len(params):
        rows = min(_ROWS_PER_STATEMENT, (len(params) - begin) // n)
        if rows < _ROWS_PER_STATEMENT:
            rows = 1 << (rows.bit_length() - 1)  # the largest power of two that fits
        end = begin + rows * n
        chunk = params[begin:end]
        try:
            conn.execute(insert_sql(mask, rows), chunk + fixed)
        except sqlite3.IntegrityError:  # an id is stored already: this chunk row by row
            _insert_one_by_one(conn, mask, chunk, fixed, conflicts)
        begin = end


def upsert_rows(
    conn: sqlite3.Connection,
    rows: Rows,
    per_model: dict[str, Totals] | None = None,
    force: AbstractSet[str] = frozenset(),
) -> int:
    """Insert new ids and replace stored ones that grew (or whose ids are in ``force``); keep
    the rollup exact. Returns rows written. Rows sharing a mask and group constants go in
    together, in id order."""
    by_statement: dict[StatementKey, list[list[Any]]] = {}
    for group, flat in rows.groups.items():
        shared = group.statement
        flats = by_statement.get(shared)
        if flats is None:
            by_statement[shared] = [flat]
        else:
            flats.append(flat)
    conflicts = _Conflicts(force)
    for shared, flats in by_statement.items():
        mask = shared.mask
        params = flats[0] if len(flats) == 1 else list(itertools.chain.from_iterable(flats))
        params = in_id_order(params, width(mask))
        _insert(conn, mask, params, constants(shared), conflicts)
    if conflicts.lost:
        rows = rows.without(conflicts.lost)
    sums = rollup.batch_sums(rows.groups)
    conn.executemany(rollup.ADD_ROW_SQL, sums)
    if per_model is not None:
        for model, totals in _totals_per_model(sums).items():
            per_model.setdefault(model, Totals()).add(totals)
    return rows.count


def _totals_per_model(sums: list[tuple[Any, ...]]) -> dict[str, Totals]:
    """Totals per model of rollup rows (``rollup.batch_sums``): columns summed in C per row,
    one Totals per model (a batch spread over many hours has many rollup rows)."""
    acc: dict[str, list[int]] = {}  # model -> the 11 sums, unpriced events, first and last ts
    for item in sums:
        unpriced = item[13] if item[4] == "unpriced" else 0
        a = acc.get(item[1])
        if a is None:
            acc[item[1]] = [*item[5:16], unpriced, item[16], item[17]]
        else:
            a[:11] = map(operator.add, a[:11], item[5:16])
            a[11] += unpriced
            a[12] = min(a[12], item[16])
            a[13] = max(a[13], item[17])
    # totals_from_row's order: the first 9 sums, unpriced, estimated, failed, first, last
    return {m: totals_from_row((*a[:9], a[11], a[9], a[10], a[12], a[13])) for m, a in acc.items()}

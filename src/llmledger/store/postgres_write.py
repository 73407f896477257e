"""Writing events to a PostgreSQL ledger inside an open transaction: COPY (binary) into a
temporary table, then claim the ids, insert the new rows and add them to the hourly rollup, so
the rollup holds exactly what was inserted.

Most batches hold only new ids: they take the fast path, a plain ``INSERT`` into ``event_ids``
in a savepoint, then one statement that inserts the events and adds them to the rollup (an
``ON CONFLICT`` claim cost twice as much per row). A batch with a stored id gets a unique
violation, is rolled back to the savepoint and takes the merging path (``MERGE_SQL``).

A row whose id is stored already keeps the stored copy unless it has more tokens, or its id is
in ``force`` (as SQLiteStore does): the stored copy is then deleted, taken out of the rollup, and
the new one inserted. Ids are claimed and rollup rows added in key order, so two writers on the
same ledger lock rows in the same order and never deadlock each other.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import msgspec
import psycopg

from llmledger.errors import InvalidEventError
from llmledger.events import MAX_TOKENS, UsageEvent
from llmledger.query import Totals
from llmledger.store.rollup import ROLLUP_SUMS, USERS_KEY, USERS_TABLE
from llmledger.store.rows import HOUR_US, to_us
from llmledger.store.sql import totals_from_row
from llmledger.store.sqlite import EVENT_COLUMNS

COLUMNS_SQL = ", ".join(EVENT_COLUMNS)
INCOMING = "llmledger_incoming"
CONFLICTS = "llmledger_conflicts"
_TOTAL = "{t}.input_tokens + {t}.cache_read_tokens + {t}.cache_write_tokens + " + (
    "{t}.cache_write_1h_tokens + {t}.output_tokens"
)
_ROLLUP_KEY = ("hour", "model", "source", "provider", "cost_status")
ROLLUP_COLUMNS = (*_ROLLUP_KEY, *ROLLUP_SUMS, "min_ts", "max_ts")
_json = msgspec.json.Encoder().encode

# Each column's type, for binary COPY (no text to format here or to parse on the server).
_TYPES = {"ts": "bigint", "estimated": "smallint", "success": "smallint"}
_TYPES |= {c: "bigint" for c in (*ROLLUP_SUMS[:7], "requests")}
_TYPES["latency_ms"] = "double precision"
COPY_TYPES = [_TYPES.get(column, "text") for column in EVENT_COLUMNS]
COPY_SQL = f"COPY {INCOMING} ({COLUMNS_SQL}) FROM STDIN (FORMAT BINARY)"

SETUP_SQL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {INCOMING} (LIKE events INCLUDING DEFAULTS)",
    f'CREATE TEMP TABLE IF NOT EXISTS {CONFLICTS} (id TEXT COLLATE "C" PRIMARY KEY, '
    "ts BIGINT NOT NULL)",
)


def rollup_delta_sql(rows: str, sign: int, *, users: bool = False) -> str:
    """A SELECT of rollup rows (of ``rollup_hourly``, or with ``users`` of
    ``rollup_hourly_users``) summing ``rows`` (a table or CTE with the events' columns),
    negated when ``sign`` < 0, in key order."""
    neg = "-" if sign < 0 else ""
    sums = [
        *(f"{neg}SUM({c})" for c in ROLLUP_SUMS[:6]),
        f"{neg}SUM(COALESCE(cost_nanos, 0))",
        f"{neg}SUM(requests)",
        f"{neg}COUNT(*)",
        f"{neg}SUM(estimated)",
        f"{neg}SUM(1 - success)",
    ]
    who = "COALESCE(user_id, '') AS user_id, COALESCE(org_id, '') AS org_id, " if users else ""
    keys = ", ".join(str(k + 1) for k in range(len(USERS_KEY if users else _ROLLUP_KEY)))
    return (
        f"SELECT ts / {HOUR_US} AS hour, {who}model, source, "
        f"COALESCE(provider, '') AS provider, cost_status, {', '.join(sums)}, MIN(ts), MAX(ts) "
        f"FROM {rows} GROUP BY {keys} ORDER BY {keys}"
    )


def _add_to(table: str, key: Sequence[str]) -> str:
    return (
        f"INSERT INTO {table} AS r ({', '.join((*key, *ROLLUP_COLUMNS[5:]))}) "
        f"SELECT * FROM {{rows}} ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = r.{c} + excluded.{c}" for c in ROLLUP_SUMS)
        + ", min_ts = LEAST(r.min_ts, excluded.min_ts), "
        "max_ts = GREATEST(r.max_ts, excluded.max_ts)"
    )


# Add rollup rows (a SELECT shaped as rollup_delta_sql's, as ``{rows}``) to a rollup.
ADD_TO_ROLLUP = _add_to("rollup_hourly", _ROLLUP_KEY)
ADD_TO_USERS_ROLLUP = _add_to(USERS_TABLE, USERS_KEY)


def add_both_sql(rows: str, sign: int) -> str:
    """CTEs (to follow a WITH's first one) adding ``rows`` to both rollups, negated when
    ``sign`` < 0; ``sums`` is what rollup_hourly got. ``rows`` are summed once, per user,
    hashed; the hourly sums are sums of those. Text keys sort byte by byte ("C": several
    times faster than the database's collation, and the same order for every writer)."""
    neg = "-" if sign < 0 else ""
    by_user = ", ".join(str(k + 1) for k in range(len(USERS_KEY)))
    by_hour = ", ".join(str(k + 1) for k in range(len(_ROLLUP_KEY)))
    c = 'COLLATE "C"'
    event_sums = ", ".join(
        [
            *(f"{neg}SUM({name}) AS {name}" for name in ROLLUP_SUMS[:6]),
            f"{neg}SUM(COALESCE(cost_nanos, 0)) AS cost_nanos",
            f"{neg}SUM(requests) AS requests",
            f"{neg}COUNT(*) AS events",
            f"{neg}SUM(estimated) AS estimated",
            f"{neg}SUM(1 - success) AS failed",
            "MIN(ts) AS min_ts",
            "MAX(ts) AS max_ts",
        ]
    )
    of_users = ", ".join(
        [*(f"SUM({name})::BIGINT" for name in ROLLUP_SUMS), "MIN(min_ts)", "MAX(max_ts)"]
    )
    return (
        f"per_user AS (SELECT ts / {HOUR_US} AS hour, COALESCE(user_id, '') {c} AS user_id, "
        f"COALESCE(org_id, '') {c} AS org_id, model {c} AS model, source {c} AS source, "
        f"COALESCE(provider, '') {c} AS provider, cost_status {c} AS cost_status, "
        f"{event_sums} FROM {rows} GROUP BY {by_user}), "
        f"users_rolled AS ({ADD_TO_USERS_ROLLUP.format(rows=f'per_user ORDER BY {by_user}')}), "
        f"sums AS (SELECT hour, model, source, provider, cost_status, {of_users} "
        f"FROM per_user GROUP BY {by_hour} ORDER BY {by_hour}), "
        f"rolled AS ({ADD_TO_ROLLUP.format(rows='sums')})"
    )


# Claim the incoming ids (existing ones are locked and noted as conflicts), insert the new
# rows, add them to the rollups; answers the rollup rows added (for per-model totals).
MERGE_SQL = f"""
WITH claimed AS (
    INSERT INTO event_ids AS k (id, ts) SELECT id, ts FROM {INCOMING} ORDER BY id
    ON CONFLICT (id) DO UPDATE SET ts = k.ts
    RETURNING k.id, k.ts, (k.xmax = 0) AS inserted
), conflicts AS (
    INSERT INTO {CONFLICTS} (id, ts) SELECT id, ts FROM claimed WHERE NOT inserted
), added AS (
    INSERT INTO events ({COLUMNS_SQL})
    SELECT {", ".join(f"i.{c}" for c in EVENT_COLUMNS)}
    FROM {INCOMING} i JOIN claimed c ON c.id = i.id AND c.inserted
    RETURNING ts, model, source, provider, cost_status, {", ".join(ROLLUP_SUMS[:6])},
              cost_nanos, requests, estimated, success, user_id, org_id
), {add_both_sql("added", +1)}
SELECT * FROM sums
"""

# The fast path: claim every incoming id (a stored one raises a unique violation), in id order.
CLAIM_SQL = f"INSERT INTO event_ids (id, ts) SELECT id, ts FROM {INCOMING} ORDER BY id"

# ... then insert the rows and add them to the rollup; answers the rollup rows added.
INSERT_SQL = f"""
WITH added AS (
    INSERT INTO events ({COLUMNS_SQL}) SELECT {COLUMNS_SQL} FROM {INCOMING}
), {add_both_sql(INCOMING, +1)}
SELECT * FROM sums
"""

# Stored copies of conflicting ids, with the incoming copy's tokens beside them.
CONFLICTS_SQL = f"""
SELECT c.id, {_TOTAL.format(t="e")}, {_TOTAL.format(t="i")}
FROM {CONFLICTS} c JOIN events e ON e.id = c.id AND e.ts = c.ts JOIN {INCOMING} i ON i.id = c.id
"""

# Delete stored copies that lose to the incoming ones (ids %s), taking them out of the rollups.
REPLACE_SQL = f"""
WITH gone AS (
    DELETE FROM events e USING {CONFLICTS} c
    WHERE c.id = ANY(%(ids)s) AND e.id = c.id AND e.ts = c.ts
    RETURNING e.*
), {add_both_sql("gone", -1)}, moved AS (
    UPDATE event_ids k SET ts = i.ts FROM {INCOMING} i WHERE k.id = i.id AND i.id = ANY(%(ids)s)
)
INSERT INTO events ({COLUMNS_SQL})
SELECT {COLUMNS_SQL} FROM {INCOMING} WHERE id = ANY(%(ids)s)
"""

REPLACED_SUMS_SQL = f"""
WITH replaced AS (SELECT * FROM {INCOMING} WHERE id = ANY(%(ids)s)), {add_both_sql("replaced", +1)}
SELECT * FROM sums
"""


def _text(value: str | None) -> str | None:
    return value or None


def event_row(e: UsageEvent) -> tuple[Any, ...]:
    """The events row of ``e`` (validated), in EVENT_COLUMNS order; empty texts are NULL, as
    SQLiteStore stores them."""
    i, cr, cw, cw1, o, r = (
        e.input_tokens,
        e.cache_read_tokens,
        e.cache_write_tokens,
        e.cache_write_1h_tokens,
        e.output_tokens,
        e.reasoning_tokens,
    )
    requests = e.requests
    if not (
        type(i) is int
        and type(cr) is int
        and type(cw) is int
        and type(cw1) is int
        and type(o) is int
        and type(r) is int
        and type(requests) is int
        and 0 <= i <= MAX_TOKENS
        and 0 <= cr <= MAX_TOKENS
        and 0 <= cw <= MAX_TOKENS
        and 0 <= cw1 <= MAX_TOKENS
        and 0 <= r <= o <= MAX_TOKENS
        and 0 <= requests <= MAX_TOKENS
        and e.model
        and e.id
    ):
        e.validate()  # raises with a message naming the field
        if not e.id:
            raise InvalidEventError("an event needs an id")
    return (
        e.id,
        to_us(e.ts),
        e.source,
        e.provider or None,
        e.model,
        i,
        cr,
        cw,
        cw1,
        o,
        r,
        e.cost_nanos,
        e.cost_status,
        e.price_version or None,
        1 if e.estimated else 0,
        requests,
        e.user_id or None,
        e.org_id or None,
        e.account or None,
        e.api_key_id or None,
        e.session_id or None,
        e.project or None,
        e.request_type or None,
        e.host or None,
        _json(list(e.tags)).decode() if e.tags else None,
        e.latency_ms,
        1 if e.success else 0,
        e.status or None,
        _json(e.details).decode() if e.details else None,
    )


def event_rows(events: Iterable[UsageEvent]) -> list[tuple[Any, ...]]:
    """Rows of ``events``; of several copies of an id, the one with the most tokens (ties:
    the later one)."""
    rows = [event_row(e) for e in events]
    ids = {row[0] for row in rows}
    if len(ids) == len(rows):
        return rows
    best: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        kept = best.get(row[0])
        if kept is None or sum(row[5:10]) >= sum(kept[5:10]):
            best[row[0]] = row
    return list(best.values())


def months(rows: Sequence[tuple[Any, ...]]) -> set[int]:
    """The months (year * 12 + month - 1) the rows' timestamps fall in."""
    from llmledger.store.postgres_schema import month_of

    hours = {row[1] // HOUR_US for row in rows}
    return {month_of(hour * HOUR_US) for hour in hours}


def merge_rows(
    conn: psycopg.Connection[tuple[Any, ...]],
    rows: Sequence[tuple[Any, ...]],
    per_model: dict[str, Totals] | None = None,
    force: AbstractSet[str] = frozenset(),
) -> int:
    """Write ``rows`` (unique ids, partitions made) in the caller's transaction; returns rows
    written (new ids, and stored copies replaced)."""
    if not rows:
        return 0
    with conn.cursor() as cur:
        copy_rows(cur, rows)
        try:
            with conn.transaction():  # a savepoint: a stored id undoes only the claim
                cur.execute(CLAIM_SQL)
        except psycopg.errors.UniqueViolation:
            sums = _merge(cur, force)
        else:
            sums = cur.execute(INSERT_SQL).fetchall()
        cur.execute(f"TRUNCATE {INCOMING}, {CONFLICTS}")
    if per_model is not None:
        for model, totals in totals_per_model(sums).items():
            per_model.setdefault(model, Totals()).add(totals)
    return sum(int(item[13]) for item in sums)


def copy_rows(cur: psycopg.Cursor[tuple[Any, ...]], rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY ``rows`` into the (empty) incoming table, in binary."""
    with cur.copy(COPY_SQL) as copy:
        copy.set_types(COPY_TYPES)
        write = copy.write_row
        row: tuple[Any, ...] = ()
        try:
            for row in rows:
                write(row)
        except (TypeError, ValueError, OverflowError, psycopg.DataError) as exc:
            # A field of the wrong type (e.g. a number where text belongs) or out of range.
            raise InvalidEventError(f"event {row[0] if row else '?'!r}: {exc}") from exc


def _merge(cur: psycopg.Cursor[tuple[Any, ...]], force: AbstractSet[str]) -> list[Any]:
    """The merging path, for a batch holding ids stored already: the rollup rows added."""
    sums: list[Any] = cur.execute(MERGE_SQL).fetchall()
    conflicted = cur.execute(CONFLICTS_SQL).fetchall()
    if conflicted:
        ids = [str(cid) for cid, stored, new in conflicted if cid in force or new > stored]
        if ids:
            cur.execute(REPLACE_SQL, {"ids": ids})
            sums += cur.execute(REPLACED_SUMS_SQL, {"ids": ids}).fetchall()
    return sums


def totals_per_model(sums: Sequence[Sequence[Any]]) -> dict[str, Totals]:
    """Totals per model of rollup rows (hour, model, source, provider, cost status, the 11
    sums, min ts, max ts)."""
    acc: dict[str, list[int]] = {}
    for item in sums:
        values = [int(v) for v in item[5:16]]
        unpriced = values[8] if item[4] == "unpriced" else 0
        a = acc.get(item[1])
        if a is None:
            acc[item[1]] = [*values, unpriced, int(item[16]), int(item[17])]
        else:
            a[:11] = map(operator.add, a[:11], values)
            a[11] += unpriced
            a[12] = min(a[12], int(item[16]))
            a[13] = max(a[13], int(item[17]))
    return {m: totals_from_row((*a[:9], a[11], a[9], a[10], a[12], a[13])) for m, a in acc.items()}

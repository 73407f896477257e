"""``db check`` of a PostgreSQL ledger: the questions of store/health.py, in PostgreSQL's terms.

1. integrity: every claimed id (``event_ids``) has its event row and every event row its id;
2. migrations: every migration this version knows is applied, none from a newer version;
3. rollup: ``rollup_hourly`` and ``rollup_hourly_users`` hold exactly the events' sums
   (``min_ts``/``max_ts`` aside); a user's hour that differs is shown under its hour's key;
4. quotas (once in use): the usage counters equal the events' sums per subject and day/month,
   and no reservation is left behind (expired, or of a request whose event is recorded).

Read-only: one transaction at REPEATABLE READ, so the three answers describe one moment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

from llmledger.store import postgres_errors
from llmledger.store.health import SHOWN, Health, RollupDifference, rollup_differences_from
from llmledger.store.migrations import MIGRATIONS_TABLE
from llmledger.store.postgres_quotas import EXPECTED_SQL
from llmledger.store.postgres_schema import MIGRATIONS
from llmledger.store.postgres_write import ROLLUP_COLUMNS, rollup_delta_sql
from llmledger.store.quota_health import QuotaHealth, counter_differences
from llmledger.store.rollup import ROLLUP_SUMS, USERS_KEY, USERS_TABLE


@dataclass
class PostgresHealth(Health):
    """Health of a PostgreSQL ledger; ``path`` is its URL (without a password)."""

    partitions: int = 0

    def advice(self) -> list[str]:
        where = f"--db {self.path}"
        steps = []
        if self.integrity:
            steps.append(
                "the ids and the events disagree (a table changed by hand?): copy what is "
                f"there to a new ledger with `llmledger db copy --from {self.path} --to NEW`, "
                "or restore the database from its backup"
            )
        if self.unknown:
            steps.append(
                "upgrade llmledger: this ledger was written by a newer version "
                f"(migrations {', '.join(self.unknown)})"
            )
        if self.pending:
            steps.append(f"apply the pending migrations: `llmledger db migrate {where}`")
        if self.rollup_count and not self.integrity:
            steps.append(
                "the events are intact; rebuild the hourly rollup reports read from them: "
                f"`llmledger db repair {where}`"
            )
        if self.quotas.problems and not self.integrity:
            steps.append(
                "recount the quota counters from the events and drop stale reservations: "
                f"`llmledger db repair {where}`"
            )
        return steps

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(partitions=self.partitions)
        return data


def check_postgres(url: str) -> PostgresHealth:
    """Check the PostgreSQL ledger at ``url`` without writing to it."""
    location = postgres_errors.redacted(url)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise postgres_errors.connect_error(exc, location) from exc
    health = PostgresHealth(location)  # type: ignore[arg-type]  # a URL where files have a path
    try:
        with conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            _check(conn, health)
    except psycopg.Error as exc:
        raise (postgres_errors.explain(exc, location) or exc) from exc
    return health


def _check(conn: psycopg.Connection[tuple[Any, ...]], health: PostgresHealth) -> None:
    from llmledger.store.postgres_schema import pending

    todo = pending(conn, str(health.path))  # refuses a schema of another application
    if len(todo) == len(MIGRATIONS):
        from llmledger.errors import NoLedgerError

        raise NoLedgerError(f"there is no ledger in {health.path}")
    rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name").fetchall()
    health.applied = [str(row[0]) for row in rows]
    health.pending = [name for name, _ in todo]
    row = conn.execute(
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
    ).fetchone()
    health.bytes = int(row[0]) if row else 0
    row = conn.execute("SELECT COUNT(*) FROM event_ids").fetchone()
    health.events = int(row[0]) if row else 0
    row = conn.execute(
        "SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"
    ).fetchone()
    health.partitions = int(row[0]) if row else 0
    orphans = conn.execute(
        "SELECT "
        "(SELECT COUNT(*) FROM event_ids k WHERE NOT EXISTS "
        " (SELECT 1 FROM events e WHERE e.id = k.id AND e.ts = k.ts)), "
        "(SELECT COUNT(*) FROM events e WHERE NOT EXISTS "
        " (SELECT 1 FROM event_ids k WHERE k.id = e.id AND k.ts = e.ts))"
    ).fetchone()
    missing, unclaimed = (int(v) for v in (orphans or (0, 0)))
    if missing:
        health.integrity.append(f"{missing:,} claimed id(s) have no event row")
    if unclaimed:
        health.integrity.append(f"{unclaimed:,} event row(s) are not in event_ids")
    if health.integrity or health.pending:
        return
    health.rollup_count, health.rollup = _rollup_differences(conn)
    health.rollup_checked = True
    health.quotas = _check_quotas(conn, int(time.time() * 1_000_000))


def _check_quotas(conn: psycopg.Connection[tuple[Any, ...]], now_us: int) -> QuotaHealth:
    """The quota counters against the events, and reservations left behind (as SQLite's
    store/quota_health.py does)."""
    health = QuotaHealth()
    if conn.execute("SELECT 1 FROM meta WHERE key = 'quota_zone'").fetchone() is None:
        return health  # quotas never used: nothing counted
    health.counted = True
    health.differing, health.differences = counter_differences(conn, EXPECTED_SQL, SHOWN)
    counts = conn.execute(
        "SELECT (SELECT COUNT(*) FROM quota_holds WHERE expires_at <= %(now)s), "
        "(SELECT COUNT(*) FROM quota_holds h WHERE expires_at > %(now)s AND EXISTS ("
        " SELECT 1 FROM event_ids k WHERE k.id IN (h.request_id, 'proxy:' || h.request_id)))",
        {"now": now_us},
    ).fetchone()
    health.expired_holds, health.settled_holds = (int(v) for v in (counts or (0, 0)))
    return health


def _rollup_differences(
    conn: psycopg.Connection[tuple[Any, ...]],
) -> tuple[int, list[RollupDifference]]:
    count, shown = rollup_differences_from(conn, ROLLUP_COLUMNS, rollup_delta_sql("events", +1))
    users_count, users_shown = _users_differences(conn)
    return count + users_count, (shown + users_shown)[:SHOWN]


def _users_differences(
    conn: psycopg.Connection[tuple[Any, ...]],
) -> tuple[int, list[RollupDifference]]:
    """The keys of ``rollup_hourly_users`` whose sums are not the events' (each shown with its
    user and organization dropped: an hour's key, the sums of that user's row)."""
    key = ", ".join(USERS_KEY)
    sums = ", ".join(f"{name}::BIGINT" for name in ROLLUP_SUMS)
    stored = f"SELECT {key}, {sums} FROM {USERS_TABLE} WHERE events <> 0"
    expected = f"SELECT {key}, {sums} FROM expected"
    columns = f"{key}, {', '.join(ROLLUP_SUMS)}, min_ts, max_ts"
    rows = conn.execute(
        f"WITH expected({columns}) AS ({rollup_delta_sql('events', +1, users=True)}) "
        f"SELECT 0, * FROM ({stored} EXCEPT {expected}) AS a "
        f"UNION ALL SELECT 1, * FROM ({expected} EXCEPT {stored}) AS b"
    ).fetchall()
    by_key: dict[tuple[Any, ...], list[dict[str, int] | None]] = {}
    for row in rows:
        values = dict(zip(ROLLUP_SUMS, (int(v) for v in row[8:])))
        by_key.setdefault(tuple(row[1:8]), [None, None])[int(row[0])] = values
    shown = [
        RollupDifference(int(k[0]), str(k[3]), str(k[4]), str(k[5]), str(k[6]), *pair)
        for k, pair in sorted(by_key.items())[:SHOWN]
    ]
    return len(by_key), shown

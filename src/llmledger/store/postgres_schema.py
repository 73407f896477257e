"""A PostgreSQL ledger's schema: its append-only migrations, and the events table's partitions.

The migrations carry the SQLite ledger's names (store/migrations.py), so both backends record
the same list in ``_llmledger_migrations``; a SQLite-only data fix (0004) is empty here, since a
PostgreSQL ledger is only ever filled by this version's code (or by ``db copy`` from a migrated
file). They run under a transaction-level advisory lock: two processes starting at once apply
each migration once, the second waiting for the first.

``events`` is partitioned by month of ``ts`` (UTC microseconds): one table per month, made on
demand (``ensure_partitions``) and detachable when old. A unique index on a partitioned table
must hold the partition key, so the one-copy-per-id rule lives in ``event_ids`` (id → ts), a
plain table every write claims ids in (``INSERT … ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import psycopg

from llmledger.errors import ReadOnlyLedgerError, StoreError
from llmledger.store.migrations import MIGRATIONS_TABLE

Migration = tuple[str, list[str]]

# pg_advisory_xact_lock keys: migrations, partition creation, quota reservations.
MIGRATION_LOCK = 0x6C6C6D01
PARTITION_LOCK = 0x6C6C6D02
QUOTA_LOCK = 0x6C6C6D03

_TOKEN_COLUMNS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)
_ROLLUP_SUMS = (*_TOKEN_COLUMNS, "cost_nanos", "requests", "events", "estimated", "failed")

# Timestamps are integer microseconds since the Unix epoch, UTC; costs integer nano-USD.
MIGRATIONS: list[Migration] = [
    (
        "0001_events",
        [
            f"""
            CREATE TABLE events (
                id TEXT COLLATE "C" NOT NULL,
                ts BIGINT NOT NULL,
                source TEXT NOT NULL,
                provider TEXT,
                model TEXT NOT NULL,
                {", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in _TOKEN_COLUMNS)},
                cost_nanos BIGINT,
                cost_status TEXT NOT NULL,
                price_version TEXT,
                estimated SMALLINT NOT NULL DEFAULT 0,
                requests BIGINT NOT NULL DEFAULT 1,
                user_id TEXT,
                org_id TEXT,
                account TEXT,
                api_key_id TEXT,
                session_id TEXT,
                project TEXT,
                request_type TEXT,
                tags TEXT,
                latency_ms DOUBLE PRECISION,
                success SMALLINT NOT NULL DEFAULT 1,
                status TEXT,
                details TEXT
            ) PARTITION BY RANGE (ts)
            """,
            # Indexes the reports and lookups use (each partition gets its own copy): time
            # ranges, and an id at its time (event_ids knows it); one user's events.
            "CREATE INDEX events_ts_id ON events (ts, id)",
            "CREATE INDEX events_user_ts ON events (user_id, ts) WHERE user_id IS NOT NULL",
            # Ids compare byte by byte (as in SQLite), whatever the database's collation.
            'CREATE TABLE event_ids (id TEXT COLLATE "C" PRIMARY KEY, ts BIGINT NOT NULL)',
            """
            CREATE TABLE scan_files (
                path TEXT PRIMARY KEY,
                source TEXT NOT NULL,
                device BIGINT,
                inode BIGINT,
                size BIGINT NOT NULL,
                mtime_ns BIGINT NOT NULL,
                "offset" BIGINT NOT NULL,
                carry TEXT,
                events BIGINT NOT NULL DEFAULT 0,
                malformed BIGINT NOT NULL DEFAULT 0,
                scanned_at BIGINT NOT NULL
            )
            """,
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            f"""
            CREATE TABLE rollup_hourly (
                hour BIGINT NOT NULL,
                model TEXT NOT NULL,
                source TEXT NOT NULL,
                provider TEXT NOT NULL,
                cost_status TEXT NOT NULL,
                {", ".join(f"{name} BIGINT NOT NULL" for name in _ROLLUP_SUMS)},
                min_ts BIGINT NOT NULL,
                max_ts BIGINT NOT NULL,
                PRIMARY KEY (hour, model, source, provider, cost_status)
            )
            """,
        ],
    ),
    (
        "0003_gateway_keys",
        [
            """
            CREATE TABLE gateway_keys (
                id TEXT PRIMARY KEY,
                key_hash TEXT NOT NULL UNIQUE,
                prefix TEXT NOT NULL,
                user_id TEXT NOT NULL,
                org_id TEXT,
                project TEXT,
                name TEXT,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT
            )
            """,
        ],
    ),
    # SQLite's fix of old Claude Code ids: nothing to fix in a PostgreSQL ledger.
    ("0004_claude_ids_by_message", []),
    (
        "0005_quotas",
        [
            "CREATE TABLE quota_plans (subject TEXT PRIMARY KEY, plan TEXT NOT NULL, "
            "assigned_at BIGINT NOT NULL)",
            """
            CREATE TABLE quota_grants (
                id TEXT PRIMARY KEY,
                subject TEXT NOT NULL,
                units BIGINT NOT NULL,
                granted_at BIGINT NOT NULL,
                expires_at BIGINT,
                note TEXT
            )
            """,
            "CREATE INDEX quota_grants_subject ON quota_grants (subject, granted_at)",
            """
            CREATE TABLE quota_budgets (
                id TEXT PRIMARY KEY,
                scope TEXT NOT NULL,
                scope_id TEXT NOT NULL,
                period TEXT NOT NULL,
                tokens BIGINT,
                cost_nanos BIGINT,
                thresholds TEXT NOT NULL,
                hard SMALLINT NOT NULL,
                created_at BIGINT NOT NULL,
                note TEXT
            )
            """,
            "CREATE INDEX quota_budgets_subject ON quota_budgets (scope, scope_id)",
            """
            CREATE TABLE quota_alerts (
                limit_key TEXT NOT NULL,
                period TEXT NOT NULL,
                threshold BIGINT NOT NULL,
                fired_at BIGINT NOT NULL,
                resolved_at BIGINT,
                used BIGINT NOT NULL,
                limit_units BIGINT NOT NULL,
                PRIMARY KEY (limit_key, period, threshold)
            )
            """,
            """
            CREATE TABLE quota_holds (
                request_id TEXT NOT NULL,
                subject TEXT NOT NULL,
                tokens BIGINT NOT NULL,
                cost_nanos BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                PRIMARY KEY (request_id, subject)
            )
            """,
            "CREATE INDEX quota_holds_subject ON quota_holds (subject, expires_at)",
            "CREATE INDEX quota_holds_expiry ON quota_holds (expires_at)",
            "CREATE TABLE quota_zone (since_us BIGINT PRIMARY KEY, offset_us BIGINT NOT NULL)",
            "INSERT INTO quota_zone (since_us, offset_us) VALUES (-9223372036854775808, 0)",
            "CREATE TABLE quota_models (model TEXT PRIMARY KEY)",
            """
            CREATE TABLE quota_counters (
                subject TEXT COLLATE "C" NOT NULL,
                period TEXT COLLATE "C" NOT NULL,
                io_tokens BIGINT NOT NULL,
                cache_tokens BIGINT NOT NULL,
                cost_nanos BIGINT NOT NULL,
                events BIGINT NOT NULL,
                PRIMARY KEY (subject, period)
            )
            """,
        ],
    ),
    (
        "0006_rate_windows",
        [
            """
            CREATE TABLE rate_windows (
                source TEXT NOT NULL,
                limit_id TEXT NOT NULL DEFAULT '',
                "window" TEXT NOT NULL,
                observed_us BIGINT NOT NULL,
                used_percent DOUBLE PRECISION NOT NULL,
                window_minutes BIGINT,
                resets_at_us BIGINT,
                plan TEXT,
                session_id TEXT,
                PRIMARY KEY (source, limit_id, "window", observed_us)
            )
            """,
            "CREATE INDEX rate_windows_time ON rate_windows (observed_us)",
        ],
    ),
    ("0007_events_by_user", []),  # events_user_ts is made with the table (0001)
    ("0008_quota_holds_unindexed", []),  # SQLite drops its hold indexes (pages per write)
    # The machine each event was recorded on; the partitions take the column with the table.
    ("0009_events_host", ["ALTER TABLE events ADD COLUMN host TEXT"]),
    (
        # The hourly rollup per user and organization too ('' for none; store/rollup.py),
        # filled from the events. And events indexed by ts alone: an id is looked up at its
        # ts (event_ids knows it), where a handful of rows share it; the (ts, id) index cost
        # a fifth of each insert's time.
        "0010_rollup_by_user",
        [
            f"""
            CREATE TABLE rollup_hourly_users (
                hour BIGINT NOT NULL,
                user_id TEXT NOT NULL,
                org_id TEXT NOT NULL,
                model TEXT NOT NULL,
                source TEXT NOT NULL,
                provider TEXT NOT NULL,
                cost_status TEXT NOT NULL,
                {", ".join(f"{name} BIGINT NOT NULL" for name in _ROLLUP_SUMS)},
                min_ts BIGINT NOT NULL,
                max_ts BIGINT NOT NULL,
                PRIMARY KEY (hour, user_id, org_id, model, source, provider, cost_status)
            )
            """,
            f"""
            INSERT INTO rollup_hourly_users
            SELECT ts / 3600000000, COALESCE(user_id, ''), COALESCE(org_id, ''), model, source,
                   COALESCE(provider, ''), cost_status,
                   {", ".join(f"SUM({c})" for c in _TOKEN_COLUMNS)},
                   SUM(COALESCE(cost_nanos, 0)), SUM(requests), COUNT(*), SUM(estimated),
                   SUM(1 - success), MIN(ts), MAX(ts)
            FROM events GROUP BY 1, 2, 3, 4, 5, 6, 7
            """,
            "CREATE INDEX events_ts ON events (ts)",
            "DROP INDEX events_ts_id",
        ],
    ),
]


def _tables(conn: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    ).fetchall()
    return {str(row[0]) for row in rows}


def pending(conn: psycopg.Connection[tuple[object, ...]], location: str) -> list[Migration]:
    """The migrations this database still needs (all of them when it holds no ledger)."""
    tables = _tables(conn)
    if tables and MIGRATIONS_TABLE not in tables:
        others = ", ".join(sorted(tables)[:5])
        raise StoreError(
            f"{location} is not an llmledger ledger: its schema holds other tables ({others}); "
            "point --db at an empty database or schema"
        )
    applied: set[str] = set()
    if MIGRATIONS_TABLE in tables:
        rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}").fetchall()
        applied = {str(row[0]) for row in rows}
    unknown = applied - {name for name, _ in MIGRATIONS}
    if unknown:
        raise StoreError(
            f"{location} was written by a newer llmledger "
            f"(migrations {', '.join(sorted(unknown))}); upgrade llmledger"
        )
    return [(name, sql) for name, sql in MIGRATIONS if name not in applied]


def needs_migrating(location: str, todo: list[Migration], why: str) -> ReadOnlyLedgerError:
    names = ", ".join(name for name, _ in todo)
    return ReadOnlyLedgerError(
        f"the ledger at {location} needs migrating (pending: {names}) but {why}; run "
        f"`llmledger db migrate --db {location}` as a user who may change its schema"
    )


def migrate(conn: psycopg.Connection[tuple[object, ...]], location: str) -> list[str]:
    """Apply the pending migrations, each in its own transaction under the migration lock;
    returns the names applied (none when another process applied them first)."""
    done: list[str] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            todo = pending(conn, location)
            if not todo:
                return done
            name, statements = todo[0]
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
                "(name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)"
            )
            for statement in statements:
                conn.execute(statement)  # our own SQL, no input
            conn.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (%s, %s)",
                (name, int(time.time())),
            )
            done.append(name)


# -- partitions by month -----------------------------------------------------------------------


def month_of(ts_us: int) -> int:
    """The month holding ``ts_us``, as year * 12 + (month - 1)."""
    when = datetime.fromtimestamp(ts_us // 1_000_000, timezone.utc)
    return when.year * 12 + when.month - 1


def month_start_us(month: int) -> int:
    start = datetime(month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)
    return int(start.timestamp()) * 1_000_000


def partition_name(month: int) -> str:
    return f"events_{month // 12:04d}_{month % 12 + 1:02d}"


def existing_partitions(conn: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'events'::regclass"
    ).fetchall()
    return {str(row[0]) for row in rows}


def ensure_partitions(
    conn: psycopg.Connection[tuple[object, ...]], months: set[int], known: set[str]
) -> None:
    """Create the month partitions of ``months`` not in ``known`` (inside the caller's
    transaction, under the partition lock; ``known`` is updated)."""
    missing = sorted(m for m in months if partition_name(m) not in known)
    if not missing:
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
    known |= existing_partitions(conn)
    for month in missing:
        name = partition_name(month)
        if name in known:
            continue
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events "
            f"FOR VALUES FROM ({month_start_us(month)}) TO ({month_start_us(month + 1)})"
        )
        known.add(name)

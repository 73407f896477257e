"""Append-only schema migrations. Never edit a released migration: add a new one.

Each migration is a name and a list of SQL statements, applied in one transaction and recorded
in ``_llmledger_migrations``.
"""

from __future__ import annotations

from llmledger.store.rollup import REBUILD_SQL

MIGRATIONS_TABLE = "_llmledger_migrations"

# Timestamps are integer microseconds since the Unix epoch, UTC. Cost is integer nano-USD.
MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "0001_events",
        [
            """
            CREATE TABLE events (
                id TEXT NOT NULL UNIQUE,
                ts INTEGER NOT NULL,
                source TEXT NOT NULL,
                provider TEXT,
                model TEXT NOT NULL,
                input_tokens INTEGER NOT NULL DEFAULT 0,
                cache_read_tokens INTEGER NOT NULL DEFAULT 0,
                cache_write_tokens INTEGER NOT NULL DEFAULT 0,
                cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
                output_tokens INTEGER NOT NULL DEFAULT 0,
                reasoning_tokens INTEGER NOT NULL DEFAULT 0,
                cost_nanos INTEGER,
                cost_status TEXT NOT NULL,
                price_version TEXT,
                estimated INTEGER NOT NULL DEFAULT 0,
                requests INTEGER NOT NULL DEFAULT 1,
                user_id TEXT,
                org_id TEXT,
                account TEXT,
                api_key_id TEXT,
                session_id TEXT,
                project TEXT,
                request_type TEXT,
                tags TEXT,
                latency_ms REAL,
                success INTEGER NOT NULL DEFAULT 1,
                status TEXT,
                details TEXT
            )
            """,
            "CREATE INDEX events_ts ON events (ts)",
            """
            CREATE TABLE scan_files (
                path TEXT PRIMARY KEY,
                source TEXT NOT NULL,
                device INTEGER,
                inode INTEGER,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                offset INTEGER NOT NULL,
                carry TEXT,
                events INTEGER NOT NULL DEFAULT 0,
                malformed INTEGER NOT NULL DEFAULT 0,
                scanned_at INTEGER NOT NULL
            )
            """,
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            # Sums per UTC hour and (model, source, provider, cost status): see store/rollup.py.
            """
            CREATE TABLE rollup_hourly (
                hour INTEGER NOT NULL,
                model TEXT NOT NULL,
                source TEXT NOT NULL,
                provider TEXT NOT NULL,
                cost_status TEXT NOT NULL,
                input_tokens INTEGER NOT NULL,
                cache_read_tokens INTEGER NOT NULL,
                cache_write_tokens INTEGER NOT NULL,
                cache_write_1h_tokens INTEGER NOT NULL,
                output_tokens INTEGER NOT NULL,
                reasoning_tokens INTEGER NOT NULL,
                cost_nanos INTEGER NOT NULL,
                requests INTEGER NOT NULL,
                events INTEGER NOT NULL,
                estimated INTEGER NOT NULL,
                failed INTEGER NOT NULL,
                min_ts INTEGER NOT NULL,
                max_ts INTEGER NOT NULL,
                PRIMARY KEY (hour, model, source, provider, cost_status)
            ) WITHOUT ROWID
            """,
        ],
    ),
    (
        # Ledger keys the gateway issues. Only a SHA-256 of each key is stored.
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
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            )
            """,
        ],
    ),
    (
        # Claude Code ids lose the request id (`claude:<message.id>:<requestId>` becomes
        # `claude:<message.id>`): side questions re-log a call under a new request id. Of the
        # rows that now share an id the largest stays (then the oldest); sums are rebuilt.
        "0004_claude_ids_by_message",
        [
            """
            CREATE TEMP TABLE claude_ids AS
            SELECT rowid AS row,
                   substr(id, 1, 6 + instr(substr(id, 8), ':')) AS new_id,
                   input_tokens + cache_read_tokens + cache_write_tokens
                       + cache_write_1h_tokens + output_tokens AS size
            FROM events
            WHERE source = 'claude-code' AND id LIKE 'claude:%' AND instr(substr(id, 8), ':') > 0
            """,
            "CREATE INDEX temp.claude_ids_new ON claude_ids (new_id)",
            """
            DELETE FROM events WHERE rowid IN (
                SELECT a.row FROM claude_ids a
                WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = a.new_id)
                   OR EXISTS (
                       SELECT 1 FROM claude_ids b
                       WHERE b.new_id = a.new_id
                         AND (b.size > a.size OR (b.size = a.size AND b.row < a.row))
                   )
            )
            """,
            """
            UPDATE events SET id = (SELECT new_id FROM claude_ids WHERE row = events.rowid)
            WHERE rowid IN (SELECT row FROM claude_ids)
            """,
            "DROP TABLE temp.claude_ids",
            *REBUILD_SQL,
        ],
    ),
    (
        # Quotas: plan assignments, add-on grants, budgets, alert state, reservations (holds),
        # and usage counters per subject and local day / month, kept by triggers on events
        # (store/quota_counters.py) once quotas are in use: the first quota book on a ledger
        # creates them in its zone and fills the counters (a ledger without quotas pays
        # nothing per write).
        "0005_quotas",
        [
            """
            CREATE TABLE quota_plans (
                subject TEXT PRIMARY KEY,
                plan TEXT NOT NULL,
                assigned_at INTEGER NOT NULL
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE quota_grants (
                id TEXT PRIMARY KEY,
                subject TEXT NOT NULL,
                units INTEGER NOT NULL,
                granted_at INTEGER NOT NULL,
                expires_at INTEGER,
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
                tokens INTEGER,
                cost_nanos INTEGER,
                thresholds TEXT NOT NULL,
                hard INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                note TEXT
            )
            """,
            "CREATE INDEX quota_budgets_subject ON quota_budgets (scope, scope_id)",
            """
            CREATE TABLE quota_alerts (
                limit_key TEXT NOT NULL,
                period TEXT NOT NULL,
                threshold INTEGER NOT NULL,
                fired_at INTEGER NOT NULL,
                resolved_at INTEGER,
                used INTEGER NOT NULL,
                limit_units INTEGER NOT NULL,
                PRIMARY KEY (limit_key, period, threshold)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE quota_holds (
                request_id TEXT NOT NULL,
                subject TEXT NOT NULL,
                tokens INTEGER NOT NULL,
                cost_nanos INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                PRIMARY KEY (request_id, subject)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX quota_holds_subject ON quota_holds (subject, expires_at)",
            "CREATE INDEX quota_holds_expiry ON quota_holds (expires_at)",
            "CREATE TABLE quota_zone (since_us INTEGER PRIMARY KEY, offset_us INTEGER NOT NULL)",
            "INSERT INTO quota_zone (since_us, offset_us) VALUES (-9223372036854775808, 0)",
            "CREATE TABLE quota_models (model TEXT PRIMARY KEY) WITHOUT ROWID",
            """
            CREATE TABLE quota_counters (
                subject TEXT NOT NULL,
                period TEXT NOT NULL,
                io_tokens INTEGER NOT NULL,
                cache_tokens INTEGER NOT NULL,
                cost_nanos INTEGER NOT NULL,
                events INTEGER NOT NULL,
                PRIMARY KEY (subject, period)
            ) WITHOUT ROWID
            """,
        ],
    ),
    (
        # Readings of the agents' official usage-limit windows (rate_windows.py): Codex's
        # token_count ``rate_limits`` and Claude Code's statusline ``rate_limits``.
        "0006_rate_windows",
        [
            """
            CREATE TABLE rate_windows (
                source TEXT NOT NULL,
                limit_id TEXT NOT NULL DEFAULT '',
                window TEXT NOT NULL,
                observed_us INTEGER NOT NULL,
                used_percent REAL NOT NULL,
                window_minutes INTEGER,
                resets_at_us INTEGER,
                plan TEXT,
                session_id TEXT,
                PRIMARY KEY (source, limit_id, window, observed_us)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX rate_windows_time ON rate_windows (observed_us)",
        ],
    ),
    (
        # A user's own views (dashboard, usage API) read only their events. Partial: agent-log
        # events carry no user, so the scan pays nothing; an attributed write pays one entry.
        "0007_events_by_user",
        ["CREATE INDEX events_user_ts ON events (user_id, ts) WHERE user_id IS NOT NULL"],
    ),
    (
        # quota_holds holds only requests in flight: a scan of it is cheaper than keeping two
        # indexes, which tripled the pages every reservation and settle wrote.
        "0008_quota_holds_unindexed",
        ["DROP INDEX quota_holds_subject", "DROP INDEX quota_holds_expiry"],
    ),
    (
        # The machine each event was recorded on (llmledger/host.py); older events have none.
        "0009_events_host",
        ["ALTER TABLE events ADD COLUMN host TEXT"],
    ),
    (
        # PostgreSQL's hourly rollup per user and organization (store/rollup.py). Not kept
        # here: splitting each batch's sums per user and upserting them cost ~2 us an event
        # (+30 % on record_many) on a gateway-like ledger; SQLite reads those reports from the
        # events. The name is kept so both backends list the same migrations.
        "0010_rollup_by_user",
        [],
    ),
]

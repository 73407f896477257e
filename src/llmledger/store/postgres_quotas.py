"""The quota tables of a PostgreSQL ledger, with SQLite's semantics (store/quotas.py).

Usage counters per subject and local day / month are kept by a row trigger on ``events``
(PL/pgSQL), made by the first quota book on a ledger (``set_counter_zone``), as SQLite's
triggers are. Reservations, and settlements that release them, take one advisory lock for
their transaction, so what a reservation reads cannot change under it (as SQLite's
``BEGIN IMMEDIATE``); writes that carry no reservation never wait for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from llmledger.errors import StoreError
from llmledger.events import UsageEvent
from llmledger.query import Totals
from llmledger.quota.records import (
    AlertState,
    Budget,
    CounterRange,
    Grant,
    Hold,
    QuotaReader,
    Settled,
)
from llmledger.store.postgres_schema import QUOTA_LOCK
from llmledger.store.postgres_write import event_rows
from llmledger.store.quota_counters import counted_rows_sql, event_rows_sql, fill_sql
from llmledger.store.quotas import (
    _ALERT_COLUMNS,
    _BUDGET_COLUMNS,
    _GRANT_COLUMNS,
    QuotaTables,
    budget_values,
    grant_values,
    granted_before,
)
from llmledger.store.quotas import _at as moment_of
from llmledger.store.quotas import _grant as grant_from_row
from llmledger.store.rows import to_us

__all__ = ["PostgresQuotas"]

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]

_SUBJECTS = (("user", "user_id"), ("org", "org_id"), ("key", "api_key_id"))
_COUNTED = (
    "ts, model, user_id, org_id, api_key_id, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_tokens, cache_write_1h_tokens, cost_nanos"
)

FUNCTIONS_SQL: list[str] = [
    """
    CREATE OR REPLACE FUNCTION llmledger_local_day(at_us BIGINT) RETURNS TEXT
    LANGUAGE sql STABLE AS $$
        SELECT to_char(DATE '1970-01-01' + ((at_us + (
            SELECT offset_us FROM quota_zone WHERE since_us <= at_us
            ORDER BY since_us DESC LIMIT 1)) / 86400000000)::integer, 'YYYY-MM-DD')
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION llmledger_count_row(
        at_us BIGINT, v_model TEXT, v_user TEXT, v_org TEXT, v_key TEXT,
        v_io BIGINT, v_cache BIGINT, v_cost BIGINT, v_sign INTEGER
    ) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        subjects TEXT[] := ARRAY[]::TEXT[];
        day TEXT;
    BEGIN
        IF v_user IS NOT NULL THEN subjects := subjects || ('user:' || v_user); END IF;
        IF v_org IS NOT NULL THEN subjects := subjects || ('org:' || v_org); END IF;
        IF v_key IS NOT NULL THEN subjects := subjects || ('key:' || v_key); END IF;
        IF EXISTS (SELECT 1 FROM quota_models WHERE model = v_model) THEN
            subjects := subjects || ('model:' || v_model);
        END IF;
        IF cardinality(subjects) = 0 THEN RETURN; END IF;
        day := llmledger_local_day(at_us);
        INSERT INTO quota_counters AS c
            (subject, period, io_tokens, cache_tokens, cost_nanos, events)
        SELECT s, p, v_sign * v_io, v_sign * v_cache, v_sign * v_cost, v_sign
        FROM unnest(subjects) AS s, unnest(ARRAY['d:' || day, 'm:' || substr(day, 1, 7)]) AS p
        ORDER BY 1, 2
        ON CONFLICT (subject, period) DO UPDATE SET
            io_tokens = c.io_tokens + excluded.io_tokens,
            cache_tokens = c.cache_tokens + excluded.cache_tokens,
            cost_nanos = c.cost_nanos + excluded.cost_nanos,
            events = c.events + excluded.events;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION llmledger_quota_count() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            PERFORM llmledger_count_row(OLD.ts, OLD.model, OLD.user_id, OLD.org_id,
                OLD.api_key_id, OLD.input_tokens + OLD.output_tokens,
                OLD.cache_read_tokens + OLD.cache_write_tokens + OLD.cache_write_1h_tokens,
                COALESCE(OLD.cost_nanos, 0), -1);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM llmledger_count_row(NEW.ts, NEW.model, NEW.user_id, NEW.org_id,
                NEW.api_key_id, NEW.input_tokens + NEW.output_tokens,
                NEW.cache_read_tokens + NEW.cache_write_tokens + NEW.cache_write_1h_tokens,
                COALESCE(NEW.cost_nanos, 0), 1);
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE OR REPLACE TRIGGER quota_count AFTER INSERT OR DELETE OR UPDATE OF "
    f"{_COUNTED} ON events FOR EACH ROW EXECUTE FUNCTION llmledger_quota_count()",
]


_DAY = "llmledger_local_day(ts)"
_DAILY = "period LIKE 'd:%%'"

REBUILD_SQL: list[str] = [
    "DELETE FROM quota_counters",
    *fill_sql(counted_rows_sql(_DAY), "TRUE", _DAILY),
]
# Every counter as the events say it should be (``db check`` compares it with the table).
EXPECTED_SQL = (
    f"WITH counted AS ({counted_rows_sql(_DAY)}), days AS ("
    "SELECT subject, 'd:' || day AS period, SUM(io) AS io, SUM(cache) AS cache, "
    "SUM(cost) AS cost, COUNT(*) AS events FROM counted GROUP BY subject, day) "
    'SELECT subject COLLATE "C", period COLLATE "C", io::BIGINT, cache::BIGINT, '
    "cost::BIGINT, events::BIGINT FROM days UNION ALL "
    'SELECT subject COLLATE "C", (\'m:\' || substr(period, 3, 7)) COLLATE "C", '
    "SUM(io)::BIGINT, SUM(cache)::BIGINT, SUM(cost)::BIGINT, SUM(events)::BIGINT "
    "FROM days GROUP BY subject, substr(period, 3, 7)"
)
MODEL_FILL_SQL: list[str] = [
    "DELETE FROM quota_counters WHERE subject = 'model:' || %(model)s",
    *fill_sql(
        event_rows_sql("model", "model", "model = %(model)s", _DAY),
        "subject = 'model:' || %(model)s",
        _DAILY,
    ),
]


def _us(moment: datetime) -> int:
    return to_us(moment)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("%s" for _ in values)


class _Reader(QuotaTables):
    """``QuotaReader`` on a connection (inside a transaction)."""

    MARK = "%s"
    BYTEWISE = ' COLLATE "C"'

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._pg = conn

    def counted_subjects(self, kind: str, window: str) -> list[str]:
        rows = self._pg.execute(
            "SELECT subject FROM quota_counters WHERE period = %s AND starts_with(subject, %s) "
            "AND events != 0 ORDER BY subject",
            (window, f"{kind}:"),
        ).fetchall()
        return [str(row[0]) for row in rows]


class PostgresQuotas:
    """The Store protocol's quota methods (quota/records.py ``QuotaStorage``)."""

    if TYPE_CHECKING:

        def _writing(self) -> AbstractContextManager[Connection]: ...

        def _reading(self) -> AbstractContextManager[Connection]: ...

        def write_rows(
            self,
            conn: Connection,
            rows: list[tuple[Any, ...]],
            per_model: dict[str, Totals] | None = None,
        ) -> int: ...

        def _retried(self, work: Callable[[], T]) -> T: ...

    def read_quotas(self, read: Callable[[QuotaReader], T]) -> T:
        with self._reading() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return read(_Reader(conn))

    def reserve(
        self, now: datetime, decide: Callable[[QuotaReader], Sequence[Hold]]
    ) -> Sequence[Hold]:
        with self._writing() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (QUOTA_LOCK,))
            conn.execute("DELETE FROM quota_holds WHERE expires_at <= %s", (_us(now),))
            holds = decide(_Reader(conn))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO quota_holds (request_id, subject, tokens, cost_nanos, "
                    "expires_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (request_id, subject) "
                    "DO UPDATE SET tokens = excluded.tokens, cost_nanos = excluded.cost_nanos, "
                    "expires_at = excluded.expires_at",
                    [
                        (h.request_id, h.subject, h.tokens, h.cost_nanos, _us(h.expires_at))
                        for h in holds
                    ],
                )
        return holds

    def release_holds(self, request_id: str) -> int:
        with self._writing() as conn:
            cursor = conn.execute("DELETE FROM quota_holds WHERE request_id = %s", (request_id,))
            return cursor.rowcount

    def expire_holds(self, now: datetime) -> int:
        with self._writing() as conn:
            cursor = conn.execute("DELETE FROM quota_holds WHERE expires_at <= %s", (_us(now),))
            return cursor.rowcount

    def write_settled(
        self,
        events: Sequence[UsageEvent],
        request_id: str,
        *,
        per_model: dict[str, Totals] | None = None,
        prepare: Callable[[list[UsageEvent]], None] | None = None,
        counters: Sequence[CounterRange] = (),
        alert_keys: Sequence[str] = (),
    ) -> Settled:
        batch = list(events)
        if prepare is not None:
            prepare(batch)
        rows = event_rows(batch)
        sums: dict[str, Totals] = {}

        def once() -> Settled:
            sums.clear()
            with self._writing() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (QUOTA_LOCK,))
                written = self.write_rows(conn, rows, sums)
                conn.execute("DELETE FROM quota_holds WHERE request_id = %s", (request_id,))
                reader = _Reader(conn)
                counts = reader.counts(counters) if counters else []
                alerts = reader.alert_states(alert_keys) if alert_keys else []
            return Settled(written, counts, alerts)

        settled = self._retried(once)
        if per_model is not None:
            for model, totals in sums.items():
                per_model.setdefault(model, Totals()).add(totals)
        return settled

    def assign_plan(self, subject: str, plan: str | None, at: datetime) -> None:
        with self._writing() as conn:
            if plan is None:
                conn.execute("DELETE FROM quota_plans WHERE subject = %s", (subject,))
            else:
                conn.execute(
                    "INSERT INTO quota_plans (subject, plan, assigned_at) VALUES (%s, %s, %s) "
                    "ON CONFLICT (subject) DO UPDATE SET plan = excluded.plan, "
                    "assigned_at = excluded.assigned_at",
                    (subject, plan, _us(at)),
                )

    def add_grant(self, grant: Grant) -> tuple[Grant, bool]:
        values = grant_values(grant)
        with self._writing() as conn:
            inserted = conn.execute(
                f"INSERT INTO quota_grants ({_GRANT_COLUMNS}) VALUES ({_marks(values)}) "
                "ON CONFLICT (id) DO NOTHING",
                values,
            ).rowcount
            if inserted:
                return grant, True
            row = conn.execute(
                f"SELECT {_GRANT_COLUMNS} FROM quota_grants WHERE id = %s",
                (grant.id,),
            ).fetchone()
        assert row is not None
        return granted_before(grant_from_row(row), grant)

    def add_budget(self, budget: Budget) -> Budget:
        created = budget.created_at or datetime.now(timezone.utc)
        values = budget_values(budget, created)
        with self._writing() as conn:
            inserted = conn.execute(
                f"INSERT INTO quota_budgets ({_BUDGET_COLUMNS}) VALUES ({_marks(values)}) "
                "ON CONFLICT (id) DO NOTHING",
                values,
            ).rowcount
            if not inserted:
                raise StoreError(f"a budget with id {budget.id!r} exists already")
            if budget.scope == "model":
                added = conn.execute(
                    "INSERT INTO quota_models (model) VALUES (%s) ON CONFLICT DO NOTHING",
                    (budget.scope_id,),
                ).rowcount
                if added:
                    for statement in MODEL_FILL_SQL:
                        conn.execute(statement, {"model": budget.scope_id})
        return replace(budget, created_at=moment_of(_us(created)))

    def remove_budget(self, budget_id: str) -> bool:
        with self._writing() as conn:
            row = conn.execute(
                "SELECT scope, scope_id FROM quota_budgets WHERE id = %s", (budget_id,)
            ).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM quota_budgets WHERE id = %s", (budget_id,))
            conn.execute(
                "DELETE FROM quota_alerts WHERE starts_with(limit_key, %s)",
                (f"budget:{budget_id}:",),
            )
            if row[0] == "model":
                left = conn.execute(
                    "SELECT 1 FROM quota_budgets WHERE scope = 'model' AND scope_id = %s",
                    (row[1],),
                ).fetchone()
                if left is None:
                    conn.execute("DELETE FROM quota_models WHERE model = %s", (row[1],))
                    conn.execute(
                        "DELETE FROM quota_counters WHERE subject = %s", (f"model:{row[1]}",)
                    )
        return True

    def mark_alert(self, state: AlertState) -> bool:
        with self._writing() as conn:
            if state.resolved_at is not None:
                cursor = conn.execute(
                    "UPDATE quota_alerts SET resolved_at = %s, used = %s, limit_units = %s "
                    "WHERE limit_key = %s AND period = %s AND threshold = %s "
                    "AND resolved_at IS NULL",
                    (
                        _us(state.resolved_at),
                        state.used,
                        state.limit,
                        state.limit_key,
                        state.window,
                        state.threshold,
                    ),
                )
                return cursor.rowcount > 0
            cursor = conn.execute(
                f"INSERT INTO quota_alerts AS a ({_ALERT_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, NULL, %s, %s) "
                "ON CONFLICT (limit_key, period, threshold) DO UPDATE SET "
                "fired_at = excluded.fired_at, resolved_at = NULL, used = excluded.used, "
                "limit_units = excluded.limit_units WHERE a.resolved_at IS NOT NULL",
                (
                    state.limit_key,
                    state.window,
                    state.threshold,
                    _us(state.fired_at),
                    state.used,
                    state.limit,
                ),
            )
            return cursor.rowcount > 0

    def set_counter_zone(self, name: str, offsets: Sequence[tuple[int, int]]) -> None:
        with self._writing() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (QUOTA_LOCK,))
            row = conn.execute("SELECT value FROM meta WHERE key = 'quota_zone'").fetchone()
            if row is not None and row[0] == name:
                return
            conn.execute("DELETE FROM quota_zone")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO quota_zone (since_us, offset_us) VALUES (%s, %s)", list(offsets)
                )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('quota_zone', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (name,),
            )
            for statement in [*FUNCTIONS_SQL, *REBUILD_SQL]:
                conn.execute(statement)

    def rebuild_counters(self) -> None:
        with self._writing() as conn:
            for statement in REBUILD_SQL:
                conn.execute(statement)
            # Holds of requests whose event is recorded are left by a crash between the two
            # (a settle drops them in the event's own transaction).
            conn.execute(
                "DELETE FROM quota_holds h WHERE EXISTS (SELECT 1 FROM event_ids k "
                "WHERE k.id IN (h.request_id, 'proxy:' || h.request_id))"
            )

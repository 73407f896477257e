"""The quota tables of a SQLite ledger (migration 0005_quotas): plan assignments, add-on grants,
budgets, alert state, holds (reservations) and the usage counters the triggers keep
(store/quota_counters.py). ``SQLiteQuotas`` is mixed into ``SQLiteStore``: its methods run on
the store's connection, under its lock and transactions. Reservations are decided inside one
``BEGIN IMMEDIATE`` transaction, so processes sharing the file see exact counts.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeVar

from llmledger.errors import InvalidEventError, StoreError
from llmledger.events import MAX_TOKENS, UsageEvent
from llmledger.query import Totals
from llmledger.quota.records import (
    SCOPES,
    WINDOW_NAMES,
    AlertState,
    Budget,
    CounterRange,
    Counts,
    Grant,
    Hold,
    QuotaBatch,
    QuotaReader,
    Settled,
)
from llmledger.store import quota_counters
from llmledger.store.rows import build_rows, to_us
from llmledger.store.sql import QueryConnection
from llmledger.store.upsert import upsert_rows

__all__ = ["SQLiteQuotas"]

T = TypeVar("T")


def _us(moment: datetime) -> int:
    return to_us(moment)


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise StoreError(f"corrupt quota row: expected an integer, got {value!r}")
    return value


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    us = _int(value)
    return datetime.fromtimestamp(us // 1_000_000, timezone.utc).replace(microsecond=us % 1_000_000)


def _at(value: object) -> datetime:
    moment = _moment(value)
    if moment is None:
        raise StoreError("corrupt quota row: a required time is missing")
    return moment


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


_GRANT_COLUMNS = "id, subject, units, granted_at, expires_at, note"
_BUDGET_COLUMNS = (
    "id, scope, scope_id, period, tokens, cost_nanos, thresholds, hard, created_at, note"
)
_ALERT_COLUMNS = "limit_key, period, threshold, fired_at, resolved_at, used, limit_units"


def _grant(row: Sequence[object]) -> Grant:
    return Grant(
        id=str(row[0]),
        subject=str(row[1]),
        units=_int(row[2]),
        granted_at=_at(row[3]),
        expires_at=_moment(row[4]),
        note=_text(row[5]),
    )


def _budget(row: Sequence[object]) -> Budget:
    scope, window = str(row[1]), str(row[3])
    if scope not in SCOPES or window not in WINDOW_NAMES:
        raise StoreError(f"corrupt quota_budgets row: scope {scope!r}, window {window!r}")
    return Budget(
        id=str(row[0]),
        scope=scope,
        scope_id=str(row[2]),
        window=window,
        tokens=None if row[4] is None else _int(row[4]),
        cost_nanos=None if row[5] is None else _int(row[5]),
        thresholds=tuple(int(t) for t in str(row[6]).split(",") if t),
        hard=bool(row[7]),
        created_at=_moment(row[8]),
        note=_text(row[9]),
    )


def _alert(row: Sequence[object]) -> AlertState:
    return AlertState(
        limit_key=str(row[0]),
        window=str(row[1]),
        threshold=_int(row[2]),
        fired_at=_at(row[3]),
        resolved_at=_moment(row[4]),
        used=_int(row[5]),
        limit=_int(row[6]),
    )


class QuotaTables:
    """``QuotaReader`` on a connection inside a transaction, for either backend: a subclass
    names its driver's placeholder, how ORDER BY compares text byte-wise (SQLite's BINARY
    does already) and ``counted_subjects``, whose prefix test each backend indexes its way."""

    MARK = "?"
    BYTEWISE = ""

    def __init__(self, conn: QueryConnection) -> None:
        self._conn = conn

    def _marks(self, values: Sequence[object]) -> str:
        return ", ".join(self.MARK for _ in values)

    def counter_zone(self) -> str | None:
        """The zone the counters count in; None while quotas were never used (not counting)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'quota_zone'").fetchone()
        return None if row is None else str(row[0])

    def assigned_plans(self, subjects: Sequence[str] | None = None) -> dict[str, str]:
        sql = "SELECT subject, plan FROM quota_plans"
        if subjects is not None:
            if not subjects:
                return {}
            sql += f" WHERE subject IN ({self._marks(subjects)})"
        rows = self._conn.execute(sql, list(subjects or ())).fetchall()
        return {str(s): str(p) for s, p in rows}

    def grants(self, subject: str | None = None) -> list[Grant]:
        sql = f"SELECT {_GRANT_COLUMNS} FROM quota_grants"
        params: list[str] = []
        if subject is not None:
            sql += f" WHERE subject = {self.MARK}"
            params.append(subject)
        sql += f" ORDER BY granted_at, id{self.BYTEWISE}"
        return [_grant(row) for row in self._conn.execute(sql, params).fetchall()]

    def budgets(self, subjects: Sequence[str] | None = None) -> list[Budget]:
        sql = f"SELECT {_BUDGET_COLUMNS} FROM quota_budgets"
        params: list[str] = []
        if subjects is not None:
            if not subjects:
                return []
            pairs = [s.split(":", 1) for s in subjects]
            pair = f"(scope = {self.MARK} AND scope_id = {self.MARK})"
            sql += " WHERE " + " OR ".join(pair for _ in pairs)
            params = [part for pair in pairs for part in pair]
        sql += f" ORDER BY created_at, id{self.BYTEWISE}"
        return [_budget(row) for row in self._conn.execute(sql, params).fetchall()]

    def counts(self, ranges: Sequence[CounterRange]) -> list[Counts]:
        mark = self.MARK
        result = []
        for wanted in ranges:
            row = self._conn.execute(
                "SELECT SUM(io_tokens), SUM(cache_tokens), SUM(cost_nanos), SUM(events) "
                f"FROM quota_counters WHERE subject = {mark} AND period BETWEEN {mark} AND {mark}",
                tuple(wanted),
            ).fetchone()
            result.append(Counts(*(int(value or 0) for value in (row or (0, 0, 0, 0)))))
        return result

    def held(self, subjects: Sequence[str], now: datetime) -> dict[str, Counts]:
        if not subjects:
            return {}
        rows = self._conn.execute(
            "SELECT subject, SUM(tokens), SUM(cost_nanos), COUNT(*) FROM quota_holds "
            f"WHERE subject IN ({self._marks(subjects)}) AND expires_at > {self.MARK} "
            "GROUP BY subject",
            [*subjects, _us(now)],
        ).fetchall()
        return {str(s): Counts(int(t), 0, int(c), int(n)) for s, t, c, n in rows}

    def alert_states(self, limit_keys: Sequence[str] | None = None) -> list[AlertState]:
        sql = f"SELECT {_ALERT_COLUMNS} FROM quota_alerts"
        if limit_keys is not None:
            if not limit_keys:
                return []
            sql += f" WHERE limit_key IN ({self._marks(limit_keys)})"
        text = self.BYTEWISE
        sql += f" ORDER BY fired_at, limit_key{text}, period{text}, threshold"
        rows = self._conn.execute(sql, list(limit_keys or ())).fetchall()
        return [_alert(row) for row in rows]


class _Reader(QuotaTables):
    """``QuotaReader`` on a SQLite connection inside a transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._sqlite = conn

    def counted_subjects(self, kind: str, window: str) -> list[str]:
        rows = self._sqlite.execute(
            "SELECT subject FROM quota_counters WHERE period = ? AND subject >= ? "
            "AND subject < ? AND events != 0 ORDER BY subject",
            (window, f"{kind}:", f"{kind};"),
        )
        return [str(row[0]) for row in rows]


def grant_values(grant: Grant) -> tuple[object, ...]:
    """A grant's quota_grants row (``_GRANT_COLUMNS``)."""
    expires = None if grant.expires_at is None else _us(grant.expires_at)
    return (grant.id, grant.subject, grant.units, _us(grant.granted_at), expires, grant.note)


def budget_values(budget: Budget, created: datetime) -> tuple[object, ...]:
    """A budget's quota_budgets row (``_BUDGET_COLUMNS``)."""
    return (
        budget.id,
        budget.scope,
        budget.scope_id,
        budget.window,
        budget.tokens,
        budget.cost_nanos,
        ",".join(str(t) for t in budget.thresholds),
        int(budget.hard),
        _us(created),
        budget.note,
    )


def granted_before(stored: Grant, grant: Grant) -> tuple[Grant, bool]:
    """``add_grant``'s answer when ``grant.id`` was stored already: the stored grant, or
    StoreError when it differs from the one given again."""
    same = (stored.subject, stored.units, stored.expires_at, stored.note) == (
        grant.subject,
        grant.units,
        grant.expires_at,
        grant.note,
    )
    if not same:
        raise StoreError(
            f"add-on {grant.id!r} was granted already, with other values "
            f"({stored.units:,} to {stored.subject}); use another id"
        )
    return stored, False


_BUSY, _LOCKED = 5, 6  # SQLite result codes: another connection holds the lock
_BUSY_TIMEOUT_MS = 30_000  # store/connect.py's timeout


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is None:
        return "locked" in str(exc) or "busy" in str(exc)
    return int(code) & 0xFF in (_BUSY, _LOCKED)


_HOLD_SQL = (
    "INSERT OR REPLACE INTO quota_holds "
    "(request_id, subject, tokens, cost_nanos, expires_at) VALUES (?, ?, ?, ?, ?)"
)


def _hold_values(holds: Sequence[Hold]) -> list[tuple[str, str, int, int, int]]:
    return [(h.request_id, h.subject, h.tokens, h.cost_nanos, _us(h.expires_at)) for h in holds]


class _Batch(_Reader):
    """``QuotaBatch`` inside the write transaction of a group commit."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        # data_version moves when another connection commits: never while this transaction
        # holds the write lock, so it is read once. total_changes counts the rows this
        # connection changed (triggers included): other writes of this process show too.
        self._version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        self._opening_mark = self.mark()

    @property
    def opening_mark(self) -> Hashable:
        return self._opening_mark

    def mark(self) -> Hashable:
        return (self._version, self._sqlite.total_changes)

    def holds(self, subjects: Sequence[str]) -> list[Hold]:
        if not subjects:
            return []
        rows = self._sqlite.execute(
            "SELECT request_id, subject, tokens, cost_nanos, expires_at FROM quota_holds "
            f"WHERE subject IN ({_marks(subjects)})",
            list(subjects),
        )
        return [Hold(str(r), str(s), _int(t), _int(c), _at(e)) for r, s, t, c, e in rows]

    def add_holds(self, holds: Sequence[Hold]) -> None:
        self._sqlite.executemany(_HOLD_SQL, _hold_values(holds))

    def drop_holds(self, request_ids: Sequence[str]) -> None:
        self._sqlite.executemany(
            "DELETE FROM quota_holds WHERE request_id = ?", [(r,) for r in request_ids]
        )


class SQLiteQuotas:
    """The Store protocol's quota methods (quota/records.py ``QuotaStorage``)."""

    if TYPE_CHECKING:
        _lock: threading.RLock
        _conn: sqlite3.Connection

        def _writing(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _ready_to_write(self) -> None: ...

        def _failure(self, exc: sqlite3.Error, *, writing: bool) -> StoreError: ...

        def _reading(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _written(self, rows: int) -> None: ...

    def read_quotas(self, read: Callable[[QuotaReader], T]) -> T:
        with self._reading() as conn:
            conn.execute("BEGIN")
            try:
                return read(_Reader(conn))
            finally:
                conn.execute("COMMIT")

    def reserve(
        self, now: datetime, decide: Callable[[QuotaReader], Sequence[Hold]]
    ) -> Sequence[Hold]:
        with self._writing() as conn:
            conn.execute("DELETE FROM quota_holds WHERE expires_at <= ?", (_us(now),))
            holds = decide(_Reader(conn))
            conn.executemany(_HOLD_SQL, _hold_values(holds))
        return holds

    def release_holds(self, request_id: str) -> int:
        with self._writing() as conn:
            cursor = conn.execute("DELETE FROM quota_holds WHERE request_id = ?", (request_id,))
            return cursor.rowcount

    def expire_holds(self, now: datetime) -> int:
        with self._writing() as conn:
            cursor = conn.execute("DELETE FROM quota_holds WHERE expires_at <= ?", (_us(now),))
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
        rows = build_rows(batch)
        try:
            with self._writing() as conn:
                written = upsert_rows(conn, rows, per_model)
                conn.execute("DELETE FROM quota_holds WHERE request_id = ?", (request_id,))
                reader = _Reader(conn)
                counts = reader.counts(counters) if counters else []
                alerts = reader.alert_states(alert_keys) if alert_keys else []
        except OverflowError:
            raise InvalidEventError(
                f"a token count or request count is beyond any real usage (> {MAX_TOKENS:,})"
            ) from None
        self._written(written)
        return Settled(written, counts, alerts)

    def write_batch(
        self,
        events: Sequence[UsageEvent],
        work: Callable[[QuotaBatch], None],
        *,
        per_model: dict[str, Totals] | None = None,
        prepare: Callable[[list[UsageEvent]], None] | None = None,
    ) -> int:
        batch = list(events)
        if prepare is not None and batch:
            prepare(batch)
        rows = build_rows(batch)
        try:
            with self._writing() as conn:
                quota_batch = _Batch(conn)  # its opening mark: before the events are written
                written = upsert_rows(conn, rows, per_model) if batch else 0
                work(quota_batch)
        except OverflowError:
            raise InvalidEventError(
                f"a token count or request count is beyond any real usage (> {MAX_TOKENS:,})"
            ) from None
        self._written(written)
        return written

    def try_quota_batch(self, work: Callable[[QuotaBatch], None]) -> bool:
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._ready_to_write()
            conn = self._conn
            # No waiting on another process's write lock: busy now means "not now".
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _busy(exc):
                    return False
                raise self._failure(exc, writing=True) from exc
            finally:
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            try:
                work(_Batch(conn))
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._failure(exc, writing=True) from exc
                raise
            return True
        finally:
            self._lock.release()

    def assign_plan(self, subject: str, plan: str | None, at: datetime) -> None:
        with self._writing() as conn:
            if plan is None:
                conn.execute("DELETE FROM quota_plans WHERE subject = ?", (subject,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO quota_plans (subject, plan, assigned_at) "
                    "VALUES (?, ?, ?)",
                    (subject, plan, _us(at)),
                )

    def add_grant(self, grant: Grant) -> tuple[Grant, bool]:
        values = grant_values(grant)
        with self._writing() as conn:
            row = conn.execute(
                f"SELECT {_GRANT_COLUMNS} FROM quota_grants WHERE id = ?", (grant.id,)
            ).fetchone()
            if row is None:
                conn.execute(
                    f"INSERT INTO quota_grants ({_GRANT_COLUMNS}) VALUES ({_marks(values)})", values
                )
                return grant, True
        return granted_before(_grant(row), grant)

    def add_budget(self, budget: Budget) -> Budget:
        created = budget.created_at or datetime.now(timezone.utc)
        values = budget_values(budget, created)
        with self._writing() as conn:
            try:
                conn.execute(
                    f"INSERT INTO quota_budgets ({_BUDGET_COLUMNS}) VALUES ({_marks(values)})",
                    values,
                )
            except sqlite3.IntegrityError:
                raise StoreError(f"a budget with id {budget.id!r} exists already") from None
            if budget.scope == "model":
                self._track_model(conn, budget.scope_id)
        return replace(budget, created_at=_at(_us(created)))

    def remove_budget(self, budget_id: str) -> bool:
        with self._writing() as conn:
            row = conn.execute(
                "SELECT scope, scope_id FROM quota_budgets WHERE id = ?", (budget_id,)
            ).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM quota_budgets WHERE id = ?", (budget_id,))
            conn.execute(
                "DELETE FROM quota_alerts WHERE limit_key LIKE ?", (f"budget:{budget_id}:%",)
            )
            if row[0] == "model":
                self._untrack_model(conn, str(row[1]))
        return True

    def _track_model(self, conn: sqlite3.Connection, model: str) -> None:
        added = conn.execute("INSERT OR IGNORE INTO quota_models (model) VALUES (?)", (model,))
        if added.rowcount:
            for statement in quota_counters.MODEL_FILL_SQL:
                conn.execute(statement, {"model": model})

    def _untrack_model(self, conn: sqlite3.Connection, model: str) -> None:
        left = conn.execute(
            "SELECT 1 FROM quota_budgets WHERE scope = 'model' AND scope_id = ?", (model,)
        ).fetchone()
        if left is None:
            conn.execute("DELETE FROM quota_models WHERE model = ?", (model,))
            conn.execute("DELETE FROM quota_counters WHERE subject = ?", (f"model:{model}",))

    def mark_alert(self, state: AlertState) -> bool:
        with self._writing() as conn:
            if state.resolved_at is not None:
                cursor = conn.execute(
                    "UPDATE quota_alerts SET resolved_at = ?, used = ?, limit_units = ? "
                    "WHERE limit_key = ? AND period = ? AND threshold = ? "
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
                f"INSERT INTO quota_alerts ({_ALERT_COLUMNS}) VALUES (?, ?, ?, ?, NULL, ?, ?) "
                "ON CONFLICT (limit_key, period, threshold) DO UPDATE SET "
                "fired_at = excluded.fired_at, resolved_at = NULL, used = excluded.used, "
                "limit_units = excluded.limit_units WHERE resolved_at IS NOT NULL",
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
            row = conn.execute("SELECT value FROM meta WHERE key = 'quota_zone'").fetchone()
            if row is not None and row[0] == name:
                return
            conn.execute("DELETE FROM quota_zone")
            conn.executemany(
                "INSERT INTO quota_zone (since_us, offset_us) VALUES (?, ?)", list(offsets)
            )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('quota_zone', ?)", (name,)
            )
            for statement in [*quota_counters.TRIGGERS_SQL, *quota_counters.REBUILD_SQL]:
                conn.execute(statement)

    def rebuild_counters(self) -> None:
        with self._writing() as conn:
            for statement in quota_counters.REBUILD_SQL:
                conn.execute(statement)
            # Holds of requests whose event is recorded are left by a crash between the two
            # (a settle drops them in the event's own transaction).
            conn.execute(
                "DELETE FROM quota_holds WHERE request_id IN (SELECT id FROM events) "
                "OR 'proxy:' || request_id IN (SELECT id FROM events)"
            )

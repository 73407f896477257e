"""The scale-out store: a PostgreSQL ledger (``postgresql://…``), owned by one PostgresStore.

Several processes (gateway instances, laptops' scans) may write one ledger at once: ids are
claimed with ``INSERT … ON CONFLICT`` (store/postgres_write.py), so a re-sent event never counts
twice, and the hourly rollup is kept exact by the same statement that inserts. Bulk writes go
through ``COPY``. Connections come from a psycopg_pool pool; each write is one transaction.

Opening checks the server first with one connection, so an unreachable server, refused
credentials or a missing database give one line each (store/postgres_errors.py), then applies
pending migrations under an advisory lock (store/postgres_schema.py).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import psycopg
from psycopg.errors import DeadlockDetected, SerializationFailure
from psycopg_pool import ConnectionPool

from llmledger.bookkeeping import ScanCursor, ScanProcess
from llmledger.errors import NoLedgerError, ReadOnlyLedgerError, StoreError
from llmledger.events import UsageEvent
from llmledger.query import Totals
from llmledger.store import postgres_errors, postgres_schema
from llmledger.store.base import CostUpdate
from llmledger.store.migrations import MIGRATIONS_TABLE
from llmledger.store.postgres_keys import PostgresKeys
from llmledger.store.postgres_quotas import PostgresQuotas
from llmledger.store.postgres_rate_windows import PostgresRateWindows
from llmledger.store.postgres_reads import PostgresReads
from llmledger.store.postgres_write import (
    SETUP_SQL,
    add_both_sql,
    event_rows,
    merge_rows,
    months,
)
from llmledger.store.rollup import USERS_TABLE
from llmledger.store.scan_files import read_scan_cursors, scan_file_rows

__all__ = ["PostgresStore"]

Connection = psycopg.Connection[tuple[Any, ...]]

_BATCH = 10_000  # events per COPY inside one write (batches are pipelined)
_RETRIES = 5  # attempts of a write that loses a deadlock
T = TypeVar("T")


class PostgresStore(PostgresReads, PostgresKeys, PostgresQuotas, PostgresRateWindows):
    """A ledger in a PostgreSQL database (a ``Store``, store/base.py). Thread-safe."""

    def __init__(
        self,
        url: str,
        *,
        readonly: bool = False,
        create: bool = True,
        migrate: bool = True,
        pool_size: int = 4,
    ) -> None:
        """Open the ledger at ``url``; ``create=False`` never makes one in an empty database,
        ``readonly`` never writes, ``migrate=False`` refuses a ledger that needs migrating."""
        self.url = url
        self._location = postgres_errors.redacted(url)
        self.readonly = readonly
        self.why_readonly = "opened read-only" if readonly else ""
        self._partitions: set[str] | None = None
        self._partition_lock = threading.Lock()
        self._check_and_migrate(create=create, migrate=migrate and not readonly)
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": 10},
            configure=self._configure,
            timeout=30,
            open=False,
            name="llmledger",
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except Exception as exc:
            self._pool.close()
            raise postgres_errors.connect_error(exc, self._location) from exc
        if create and not readonly:
            # A user who may not make tables still reads (and writes, into months that exist).
            with suppress(StoreError):
                self._prepare_partitions()

    # -- setup ---------------------------------------------------------------------------------

    def _check_and_migrate(self, *, create: bool, migrate: bool) -> None:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise postgres_errors.connect_error(exc, self._location) from exc
        todo = postgres_schema.MIGRATIONS
        try:
            with conn:
                todo = postgres_schema.pending(conn, self._location)
                if not todo:
                    return
                if len(todo) == len(postgres_schema.MIGRATIONS) and not create:
                    raise NoLedgerError(
                        f"there is no ledger in {self._location} yet; commands that only "
                        f"read never create one: create it with `llmledger db migrate --db "
                        f"{self._location}` or by recording into it"
                    )
                if not migrate:
                    why = (
                        "it was opened read-only" if self.readonly else "automatic migration is off"
                    )
                    raise postgres_schema.needs_migrating(self._location, todo, why)
                postgres_schema.migrate(conn, self._location)
        except psycopg.Error as exc:
            error = postgres_errors.explain(exc, self._location)
            if getattr(exc, "sqlstate", "") == "42501":
                raise postgres_schema.needs_migrating(
                    self._location, todo, "this user may not change its schema"
                ) from exc
            raise (error or StoreError(str(exc))) from exc

    @staticmethod
    def _configure(conn: Connection) -> None:
        # Sorts of a 50,000-event batch fit in memory, and a year of 200 users' days hashes
        # in memory (a daily --group-by user of 10M events: 1.7 s, 3 s sorting on disk at
        # 64MB); JIT costs more than it saves on them.
        conn.execute("SET work_mem = '128MB'")
        conn.execute("SET jit = off")
        for statement in SETUP_SQL:
            conn.execute(statement)

    def _prepare_partitions(self) -> None:
        """This month's and the next month's partitions, so writes rarely make one."""
        now = postgres_schema.month_of(int(time.time() * 1_000_000))
        with self._writing() as conn:
            self._ensure(conn, {now, now + 1})

    def _ensure(self, conn: Connection, wanted: set[int]) -> None:
        with self._partition_lock:
            if self._partitions is None:
                self._partitions = postgres_schema.existing_partitions(conn)
            known = set(self._partitions)
        if all(postgres_schema.partition_name(m) in known for m in wanted):
            return
        postgres_schema.ensure_partitions(conn, wanted, known)
        with self._partition_lock:
            self._partitions = known

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction on a pooled connection; psycopg errors said in words."""
        if self.readonly:
            raise self.read_only_error()
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except BaseException as exc:
            with self._partition_lock:
                self._partitions = None  # a partition made in the rolled-back transaction is gone
            if isinstance(exc, psycopg.Error):
                raise self._explained(exc) from exc
            raise

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise self._explained(exc) from exc

    def _explained(self, exc: BaseException) -> StoreError:
        return postgres_errors.explain(exc, self._location) or StoreError(str(exc))

    def explain(self, exc: BaseException) -> StoreError | None:
        return postgres_errors.explain(exc, self._location)

    @property
    def location(self) -> str:
        return self._location

    def read_only_error(self) -> StoreError:
        return ReadOnlyLedgerError(
            f"the ledger at {self._location} is read-only ({self.why_readonly}); nothing was "
            "written"
        )

    def applied_migrations(self) -> list[str]:
        with self._reading() as conn:
            rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name").fetchall()
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        self._pool.close()

    def _written(self, rows: int) -> None:
        """Nothing to do after a commit (SQLite checkpoints here)."""

    # -- writes --------------------------------------------------------------------------------

    def write_events(
        self,
        events: Iterable[UsageEvent],
        batch_size: int = _BATCH,
        *,
        per_model: dict[str, Totals] | None = None,
        prepare: Callable[[list[UsageEvent]], None] | None = None,
    ) -> int:
        """Record events in one transaction (all or nothing); returns rows written.

        Batches are pipelined: a thread prices and builds the next batch's rows while the
        server merges this one (building is Python's work, merging the server's: they overlap
        on two cores)."""
        iterator = iter(events)

        def build(batch: list[UsageEvent]) -> list[tuple[Any, ...]]:
            if prepare is not None:
                prepare(batch)
            return event_rows(batch)

        def next_batch() -> list[UsageEvent]:
            return list(itertools.islice(iterator, batch_size))

        first = next_batch()
        if not first:
            return 0
        sums: dict[str, Totals] = {}  # per model, handed to ``per_model`` once committed
        if len(first) < batch_size:  # one batch: a deadlock victim is simply written again
            rows = build(first)

            def once() -> int:
                sums.clear()
                with self._writing() as conn:
                    return self.write_rows(conn, rows, sums)

            written = self._retried(once)
        else:
            written = 0
            with self._writing() as conn, ThreadPoolExecutor(1, "llmledger-rows") as builder:
                pending: Future[list[tuple[Any, ...]]] | None = builder.submit(build, first)
                while pending is not None:
                    rows = pending.result()
                    following = next_batch()
                    pending = builder.submit(build, following) if following else None
                    written += self.write_rows(conn, rows, sums)
        add_totals(per_model, sums)
        return written

    def _retried(self, work: Callable[[], T]) -> T:
        """``work()`` (one write transaction), again when PostgreSQL chose it as the victim of
        a deadlock with another writer (rows locked in different orders, e.g. two batches'
        quota counters); it rolled back whole, so running it again is safe."""
        for attempt in range(_RETRIES):
            try:
                return work()
            except StoreError as exc:
                retry = isinstance(exc.__cause__, (DeadlockDetected, SerializationFailure))
                if not retry or attempt == _RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def write_rows(
        self,
        conn: Connection,
        rows: list[tuple[Any, ...]],
        per_model: dict[str, Totals] | None = None,
        force: AbstractSet[str] = frozenset(),
    ) -> int:
        """Rows (``postgres_write.event_rows``) into the open transaction ``conn``."""
        if not rows:
            return 0
        self._ensure(conn, months(rows))
        return merge_rows(conn, rows, per_model, force)

    def update_costs(self, updates: Iterable[CostUpdate]) -> int:
        """Set new costs of stored events, rollup included; returns events changed."""
        changed = 0
        with self._writing() as conn:
            for update in updates:
                row = conn.execute(
                    "SELECT ts FROM event_ids WHERE id = %s", (update.event_id,)
                ).fetchone()
                if row is None:
                    continue
                conn.execute(
                    "WITH old AS (SELECT * FROM events WHERE id = %(id)s AND ts = %(ts)s), "
                    f"{add_both_sql('old', -1)} SELECT COUNT(*) FROM sums",
                    {"id": update.event_id, "ts": row[0]},
                )
                conn.execute(
                    "UPDATE events SET cost_nanos = %s, cost_status = %s, price_version = %s "
                    "WHERE id = %s AND ts = %s",
                    (
                        update.cost_nanos,
                        update.cost_status,
                        update.price_version,
                        update.event_id,
                        row[0],
                    ),
                )
                conn.execute(
                    "WITH new AS (SELECT * FROM events WHERE id = %(id)s AND ts = %(ts)s), "
                    f"{add_both_sql('new', +1)} SELECT COUNT(*) FROM sums",
                    {"id": update.event_id, "ts": row[0]},
                )
                changed += 1
        return changed

    def rebuild_rollup(self) -> None:
        with self._writing() as conn:
            conn.execute(f"DELETE FROM rollup_hourly; DELETE FROM {USERS_TABLE}")
            conn.execute(f"WITH {add_both_sql('events', +1)} SELECT COUNT(*) FROM sums")

    def scan_process(self) -> ScanProcess | None:
        """None: a scan writes through ``write_scan`` (PostgreSQL takes writers in parallel)."""
        return None

    # -- scan cursors --------------------------------------------------------------------------

    def scan_cursors(self) -> dict[str, ScanCursor]:
        with self._reading() as conn:
            return read_scan_cursors(conn)

    def write_scan(
        self,
        events: Sequence[UsageEvent],
        cursors: Sequence[ScanCursor],
        replace: AbstractSet[str] = frozenset(),
    ) -> int:
        """A scan's events and its files' cursors in ONE transaction."""
        rows = event_rows(events)
        cursor_rows = scan_file_rows(cursors, int(time.time()))
        return self._retried(lambda: self._write_scan(rows, cursor_rows, replace))

    def _write_scan(
        self,
        rows: list[tuple[Any, ...]],
        cursor_rows: list[tuple[Any, ...]],
        replace: AbstractSet[str],
    ) -> int:
        with self._writing() as conn:
            changed = self.write_rows(conn, rows, force=replace)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO scan_files (path, source, device, inode, size, mtime_ns, "
                    '"offset", carry, events, malformed, scanned_at) '
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (path) DO UPDATE SET source = excluded.source, "
                    "device = excluded.device, inode = excluded.inode, size = excluded.size, "
                    'mtime_ns = excluded.mtime_ns, "offset" = excluded."offset", '
                    "carry = excluded.carry, events = excluded.events, "
                    "malformed = excluded.malformed, scanned_at = excluded.scanned_at",
                    cursor_rows,
                )
        return changed

    # -- meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


def add_totals(per_model: dict[str, Totals] | None, sums: dict[str, Totals]) -> None:
    if per_model is not None:
        for model, totals in sums.items():
            per_model.setdefault(model, Totals()).add(totals)

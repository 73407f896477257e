"""The embedded default store: one SQLite file in WAL mode, owned by one SQLiteStore object.

All writes go through this object and are serialized by its lock (one writer). Recording an id
that is already stored keeps the copy with more tokens (ties: the newer copy), so re-scans and
retries never double-count and a streamed log's growing copies converge on the final one.

Opening may create the file or only read it (store/connect.py, store/schema.py). Every sqlite3
error becomes a StoreError that says what happened (store/diagnose.py); once damage is seen, or
found by the page walk before a store's first write, nothing more is written.
"""

from __future__ import annotations

import gc
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from llmledger.bookkeeping import ScanCursor, ScanProcess
from llmledger.errors import DamagedLedgerError, InvalidEventError, StoreError
from llmledger.events import ATTRIBUTION_FIELDS, MAX_TOKENS, TOKEN_FIELDS, UsageEvent
from llmledger.query import DaySegments, EventFilter, GroupRow, Totals
from llmledger.store import rollup, schema
from llmledger.store.base import CostUpdate
from llmledger.store.checkpoint import Checkpointer
from llmledger.store.connect import connect, open_file
from llmledger.store.diagnose import explain, read_only, walk
from llmledger.store.keys import SQLiteKeys
from llmledger.store.migrations import MIGRATIONS_TABLE
from llmledger.store.quotas import SQLiteQuotas
from llmledger.store.rate_windows import SQLiteRateWindows
from llmledger.store.read_sql import events_group_sql, time_span_sql, unpriced_models_sql
from llmledger.store.rows import Rows, build_rows
from llmledger.store.scan_files import read_scan_cursors, scan_file_rows
from llmledger.store.sql import TOTALS_SQL, totals_from_row, where_sql
from llmledger.store.upsert import upsert_rows

EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "ts",
    "source",
    "provider",
    "model",
    *TOKEN_FIELDS,
    "cost_nanos",
    "cost_status",
    "price_version",
    "estimated",
    "requests",
    *ATTRIBUTION_FIELDS,
    "tags",
    "latency_ms",
    "success",
    "status",
    "details",
)

_json_decode = msgspec.json.Decoder().decode
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def from_us(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, timezone.utc).replace(
        microsecond=value % 1_000_000
    )


# WAL pages (estimated: a few per commit, ~16 rows to a page) between background checkpoints
# (store/checkpoint.py), as SQLite's own default; and the WAL size past which the writer
# checkpoints itself, a bound for when the background thread falls behind.
_CHECKPOINT_PAGES = 1_000
_WRITER_AUTOCHECKPOINT_PAGES = 16_384


def event_from_row(row: Sequence[Any]) -> UsageEvent:
    data = dict(zip(EVENT_COLUMNS, row))
    data["ts"] = from_us(data["ts"])
    data["estimated"] = bool(data["estimated"])
    data["success"] = bool(data["success"])
    data["tags"] = tuple(_json_decode(data["tags"])) if data["tags"] else ()
    data["details"] = _json_decode(data["details"]) if data["details"] else None
    return UsageEvent(**data)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector around bulk row building.

    Ingest allocates millions of small acyclic objects; each allocation burst would trigger
    collections that walk every live object (the caller's events included). Nothing made here
    forms a cycle, so nothing is left for the collector to find afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class SQLiteStore(SQLiteKeys, SQLiteQuotas, SQLiteRateWindows):
    """The ledger database (a ``Store``, store/base.py). Thread-safe; writes are serialized."""

    def __init__(self, path: Path | str, *, readonly: bool = False, create: bool = True) -> None:
        """Open (``create``: or make) the ledger at ``path``; ``readonly`` never writes.

        A ledger whose file or directory is not writable opens read-only by itself
        (``self.readonly``); writing to it raises ReadOnlyLedgerError."""
        self.path = Path(path) if str(path) != ":memory:" else None
        self.readonly = readonly
        self.damaged: DamagedLedgerError | None = None  # set once damage was seen
        self.why_readonly = "opened read-only" if readonly else ""  # why, when read-only
        self._verified = self.path is None  # pages walked (diagnose.walk) before a first write
        self._lock = threading.RLock()
        self._checkpointer: Checkpointer | None = None
        self._unchecked_pages = 0  # WAL pages written since the last checkpoint request (est.)
        if self.path is None:
            self._conn = connect(":memory:")
        else:
            opened = open_file(self.path, create=create, readonly=readonly)
            self._conn, self.readonly = opened.conn, opened.readonly
            self.why_readonly = opened.why_readonly
        try:
            self._configure()
            self._migrate(create)
        except sqlite3.Error as exc:
            error = self._failure(exc, writing=True)  # any migration was rolled back
            self._conn.close()
            raise error from exc
        except BaseException:
            self._conn.close()
            raise

    # -- setup ---------------------------------------------------------------------------------

    def _configure(self) -> None:
        conn = self._conn
        # NORMAL in WAL mode survives a killed process; only an OS crash may lose the last commit.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-65536")

    def _use_wal(self) -> None:
        """WAL mode (once the file is known to be a ledger, or new: never another app's)."""
        if self.path is None or self.readonly:
            return
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA wal_autocheckpoint={_WRITER_AUTOCHECKPOINT_PAGES}")
        self._checkpointer = Checkpointer(self.path.absolute())

    def _migrate(self, create: bool) -> None:
        with self._lock:
            new = create and not self.readonly
            pending = schema.pending_migrations(self._conn, self.path, new=new)
            self._use_wal()  # only now: never switch another application's database to WAL
            if pending and self.readonly:
                raise schema.cannot_upgrade(self.path, pending, self.why_readonly)
            for migration in pending:
                with self._transaction() as conn:
                    schema.apply(conn, migration)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (sqlite3 errors pass through: see ``_writing``). Refused on a
        read-only or damaged ledger; the first one walks the file's pages first."""
        with self._lock:
            self._ready_to_write()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):  # SQLite may have rolled back already
                        self._conn.execute("ROLLBACK")
                raise

    def _ready_to_write(self) -> None:
        if self.damaged is not None:
            raise DamagedLedgerError(str(self.damaged))
        if self.readonly:
            raise read_only(self.path, self.why_readonly)
        if not self._verified:
            try:
                walk(self._conn)
            except sqlite3.DatabaseError as exc:
                raise self._failure(exc, writing=True) from exc
            self._verified = True

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """``_transaction`` with any sqlite3 error said in words (diagnose.py)."""
        try:
            with self._transaction() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise self._failure(exc, writing=True) from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with any sqlite3 error said in words."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._failure(exc, writing=False) from exc

    def _failure(self, exc: sqlite3.Error, *, writing: bool) -> StoreError:
        """The StoreError for ``exc``; damage is remembered: nothing is written after it."""
        with self._lock:
            error = explain(exc, self.path, writing=writing, conn=self._conn)
        if isinstance(error, DamagedLedgerError):
            self.damaged = error
        return error

    def explain(self, exc: BaseException) -> StoreError | None:
        """What an sqlite3 error raised while using this store means (None: not one)."""
        if not isinstance(exc, sqlite3.Error):
            return None
        return self._failure(exc, writing=False)

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else ":memory:"

    def read_only_error(self) -> StoreError:
        return read_only(self.path, self.why_readonly)

    def applied_migrations(self) -> list[str]:
        with self._reading() as conn:
            rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name")
            return [row[0] for row in rows]

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._lock:
            self._conn.close()

    def _written(self, rows: int) -> None:
        """Ask for a background checkpoint once enough was committed since the last one."""
        with self._lock:
            self._unchecked_pages += 4 + rows // 16
            if self._checkpointer is None or self._unchecked_pages < _CHECKPOINT_PAGES:
                return
            self._unchecked_pages = 0
        self._checkpointer.request()

    # -- writes --------------------------------------------------------------------------------

    def write_events(
        self,
        events: Iterable[UsageEvent],
        batch_size: int = 5_000,
        *,
        per_model: dict[str, Totals] | None = None,
        prepare: Callable[[list[UsageEvent]], None] | None = None,
    ) -> int:
        """Record events in one transaction (all or nothing); returns rows written.

        Rows are built and validated in batches inside the transaction, so memory stays
        bounded and an invalid event rolls back everything the call wrote. ``prepare`` (e.g.
        pricing) runs on each batch first. ``per_model``, when given, receives the sums of what
        was written, per model.
        """
        iterator = iter(events)

        def batches() -> Iterator[Rows]:
            while batch := list(itertools.islice(iterator, batch_size)):
                if prepare is not None:
                    prepare(batch)
                yield build_rows(batch)

        try:
            with self._writing() as conn, paused_gc():
                written = sum(upsert_rows(conn, rows, per_model) for rows in batches())
        except OverflowError:  # a value past SQLite's 64 bits (build_rows checks no upper bound)
            raise InvalidEventError(
                f"a token count or request count is beyond any real usage (> {MAX_TOKENS:,})"
            ) from None
        self._written(written)
        return written

    def update_costs(self, updates: Iterable[CostUpdate]) -> int:
        """Set new costs of stored events, rollup included; returns events changed."""
        changed = 0
        with self._writing() as conn:
            for update in updates:
                old = conn.execute(rollup.OLD_ROW_SQL, (update.event_id,)).fetchone()
                if old is None:
                    continue
                conn.execute(
                    "UPDATE events SET cost_nanos = ?, cost_status = ?, price_version = ? "
                    "WHERE id = ?",
                    (update.cost_nanos, update.cost_status, update.price_version, update.event_id),
                )
                new = conn.execute(rollup.OLD_ROW_SQL, (update.event_id,)).fetchone()
                conn.execute(rollup.ADD_ROW_SQL, rollup.row_contribution(old, -1))
                conn.execute(rollup.ADD_ROW_SQL, rollup.row_contribution(new, +1))
                changed += 1
        return changed

    def rebuild_rollup(self) -> None:
        """Recompute the rollup from the events (repair; normal writes keep it exact)."""
        with self._writing() as conn:
            for statement in rollup.REBUILD_SQL:
                conn.execute(statement)

    # -- reads ---------------------------------------------------------------------------------

    def count(self, flt: EventFilter | None = None) -> int:
        where, params = where_sql(flt or EventFilter())
        with self._reading() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM events{where}", params).fetchone()[0])

    def time_span(self, flt: EventFilter | None = None) -> tuple[int, int] | None:
        sql, params = time_span_sql(flt or EventFilter())
        with self._reading() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    def aggregate(
        self,
        flt: EventFilter,
        dims: Sequence[str],
        segments: DaySegments | None = None,
    ) -> list[GroupRow]:
        """Summed totals per group. ``dims`` names keys of DIMENSIONS, plus ``day`` (which
        needs ``segments``: the local day number of each event)."""
        if rollup.usable(flt, dims, segments):
            sql, params = rollup.aggregate_sql(flt, dims, segments)
            return self._grouped(sql, params, len(dims), dims)
        sql, params = events_group_sql(flt, dims, segments, TOTALS_SQL)
        return self._grouped(sql, params, len(dims), dims)

    def _grouped(
        self, sql: str, params: list[Any], width: int, dims: Sequence[str]
    ) -> list[GroupRow]:
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        result = []
        for row in rows:
            totals = totals_from_row(row[width:])
            if totals.events:
                result.append(GroupRow(dict(zip(dims, row[:width])), totals))
        return result

    def unpriced_models(self, flt: EventFilter) -> list[str]:
        sql, params = unpriced_models_sql(flt)
        with self._reading() as conn:
            return sorted(row[0] for row in conn.execute(sql, params))

    def iter_events(
        self, flt: EventFilter | None = None, chunk: int = 5_000
    ) -> Iterator[UsageEvent]:
        """All matching events ordered by time, read in chunks (bounded memory)."""
        where, params = where_sql(flt or EventFilter())
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events{where} ORDER BY ts, id"
        with self._reading() as conn:
            cursor = conn.execute(sql, params)
            rows = cursor.fetchmany(chunk)
        while rows:
            for row in rows:
                yield event_from_row(row)
            with self._reading():
                rows = cursor.fetchmany(chunk)

    def events_from_row(self, first: int, limit: int) -> list[tuple[int, UsageEvent]]:
        """Up to ``limit`` events in the order they were stored (rowid, which only grows:
        a replaced copy is a new row), from rowid ``first`` on, each with its rowid."""
        sql = (
            f"SELECT rowid, {', '.join(EVENT_COLUMNS)} FROM events WHERE rowid >= ? "
            "ORDER BY rowid LIMIT ?"
        )
        with self._reading() as conn:
            rows = conn.execute(sql, (first, limit)).fetchall()
        return [(int(row[0]), event_from_row(row[1:])) for row in rows]

    def get_event(self, event_id: str) -> UsageEvent | None:
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id = ?"
        with self._reading() as conn:
            row = conn.execute(sql, (event_id,)).fetchone()
        return None if row is None else event_from_row(row)

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
        """Write a scan's events and advance its cursors in ONE transaction: a crash never
        leaves events without their cursor or a cursor past events not written. A stored copy
        of an id in ``replace`` is replaced even by a copy with fewer tokens (the scan knows
        this copy is preferred: a primary copy over a sidechain replay it wrote earlier)."""
        with paused_gc():
            rows = build_rows(events)
        return self.write_scan_rows(rows, cursors, replace)

    def write_scan_rows(
        self, rows: Rows, cursors: Sequence[ScanCursor], replace: AbstractSet[str] = frozenset()
    ) -> int:
        """``write_scan`` for rows built already (by ``build_rows``, in the process that parsed
        them: see rowpack.py)."""
        now = int(time.time())
        with self._writing() as conn:
            changed = upsert_rows(conn, rows, force=replace) if rows.count else 0
            conn.executemany(
                "INSERT OR REPLACE INTO scan_files (path, source, device, inode, size, "
                "mtime_ns, offset, carry, events, malformed, scanned_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                scan_file_rows(cursors, now),
            )
        self._written(changed)
        return changed

    def scan_process(self) -> ScanProcess | None:
        """A forked process writing a big scan to this file (None: in memory, or a fork that
        would copy other threads)."""
        from llmledger.store import scan_process  # multiprocessing: only for big scans

        if not scan_process.usable(self.path):
            return None
        assert self.path is not None
        return scan_process.ScanProcess(self.path)

    # -- meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

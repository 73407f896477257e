"""``db check``: is a ledger file sound, current and consistent, and if not, what to do.

Three questions, read-only (the file is opened with ``mode=ro`` or ``immutable``):

1. integrity: ``PRAGMA integrity_check`` (every page, row and index entry);
2. migrations: every migration this version knows is applied, none from a newer version;
3. rollup: ``rollup_hourly`` holds exactly the sums ``rollup.REBUILD_SQL`` would compute from
   the events (``min_ts``/``max_ts`` aside: they only grow, see store/rollup.py);
4. quotas (once in use): the usage counters equal the events' sums per subject and day/month,
   and no reservation is left behind (store/quota_health.py).

Each problem found comes with the next step: keep a copy and recover a damaged file, apply
pending migrations, or rebuild a rollup that disagrees with intact events (``db repair``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llmledger.errors import StoreError
from llmledger.store import rollup
from llmledger.store.connect import no_ledger, open_read_only
from llmledger.store.diagnose import command, not_a_ledger, read_header, truncation
from llmledger.store.migrations import MIGRATIONS, MIGRATIONS_TABLE
from llmledger.store.quota_health import QuotaHealth, check_quotas
from llmledger.store.rows import HOUR_US
from llmledger.store.sql import QueryConnection

# Findings of integrity_check and rollup differences kept (the counts are complete).
SHOWN = 20
_TOKENS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
)


@dataclass(frozen=True)
class RollupDifference:
    """One (hour, model, source, provider, cost status) whose stored sums are not the events'."""

    hour: int  # hours since the epoch, UTC
    model: str
    source: str
    provider: str
    cost_status: str
    stored: dict[str, int] | None  # None: no rollup row (events have some)
    expected: dict[str, int] | None  # None: no events (the rollup has sums)

    def describe(self) -> str:
        seconds = self.hour * HOUR_US // 1_000_000
        when = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:00")

        def sums(values: dict[str, int] | None) -> str:
            if values is None:
                return "no row"
            tokens = sum(values[name] for name in _TOKENS)
            return f"{values['events']:,} events, {tokens:,} tokens"

        return (
            f"{when} UTC {self.model} ({self.source}): rollup {sums(self.stored)}; "
            f"events table {sums(self.expected)}"
        )


@dataclass
class Health:
    path: Path
    bytes: int = 0
    events: int | None = None
    integrity: list[str] = field(default_factory=list)  # [] when sound
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # applied by a newer llmledger
    rollup_checked: bool = False
    rollup_count: int = 0  # keys whose sums differ
    rollup: list[RollupDifference] = field(default_factory=list)  # the first SHOWN of them
    quotas: QuotaHealth = field(default_factory=QuotaHealth)  # compared with the rollup

    @property
    def healthy(self) -> bool:
        problems = self.integrity or self.pending or self.unknown or self.rollup_count
        return not problems and self.rollup_checked and not self.quotas.problems

    def advice(self) -> list[str]:
        """What to do next, most urgent first."""
        path = self.path
        steps = []
        if self.integrity:
            steps += [
                f"keep a copy of the damaged file first: {command(path, 'db backup FILE')}",
                f"recover what it holds: `sqlite3 {path} .recover | sqlite3 NEW.db`, then "
                f"{command(Path('NEW.db'), 'db check')} (and `db repair` if its rollup differs)",
                "or re-import the agents' logs that still exist into a new ledger: "
                "`llmledger scan --full --db NEW.db`",
            ]
        if self.unknown:
            steps.append(
                "upgrade llmledger: this ledger was written by a newer version "
                f"(migrations {', '.join(self.unknown)})"
            )
        if self.pending:
            steps.append(
                "apply the pending migrations by running any command that records, e.g. "
                f"{command(path, 'scan')} (it needs write access to the file)"
            )
        if self.rollup_count and not self.integrity:
            steps.append(
                "the events are intact; rebuild the hourly rollup reports read from them: "
                f"{command(path, 'db repair')}"
            )
        if self.quotas.problems and not self.integrity:
            steps.append(
                "recount the quota counters from the events and drop stale reservations: "
                f"{command(path, 'db repair')}"
            )
        return steps

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "healthy": self.healthy,
            "bytes": self.bytes,
            "events": self.events,
            "integrity": {"ok": not self.integrity, "problems": self.integrity},
            "migrations": {
                "applied": self.applied,
                "pending": self.pending,
                "unknown": self.unknown,
            },
            "rollup": {
                "checked": self.rollup_checked,
                "ok": self.rollup_checked and not self.rollup_count,
                "differences": self.rollup_count,
                "examples": [d.describe() for d in self.rollup],
            },
            "quotas": self.quotas.to_json(),
            "next": self.advice(),
        }


def check_ledger(path: Path) -> Health:
    """Check the ledger at ``path`` without writing to it. Raises NoLedgerError and
    NotALedgerError for a file that is missing or not a ledger; reports everything else."""
    if not path.exists() or path.is_dir():
        raise no_ledger(path)
    try:
        header = read_header(path)
    except OSError as exc:
        raise StoreError(f"cannot read the ledger at {path}: {exc.strerror or exc}") from exc
    if header.size == 0:
        raise no_ledger(path, "the file is empty")
    if not header.sqlite:
        raise not_a_ledger(path, "it is not an SQLite file")
    health = Health(path, bytes=header.size)
    cut = truncation(path, header)
    if cut:
        health.integrity.append(cut)
    conn = open_read_only(path)
    try:
        _check(conn, health)
    finally:
        conn.close()
    return health


def _check(conn: sqlite3.Connection, health: Health) -> None:
    health.integrity += integrity_problems(conn)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        health.integrity.append(f"the schema cannot be read: {exc}")
        return
    if not tables:
        raise no_ledger(health.path, "the file holds no tables")
    if MIGRATIONS_TABLE not in tables:
        others = ", ".join(sorted(tables)[:5])
        raise not_a_ledger(health.path, f"it is an SQLite database with other tables: {others}")
    try:
        applied = {r[0] for r in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}
        health.events = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        health.integrity.append(f"the ledger's tables cannot be read: {exc}")
        return
    known = [name for name, _ in MIGRATIONS]
    health.applied = sorted(applied)
    health.pending = [name for name in known if name not in applied]
    health.unknown = sorted(applied - set(known))
    if health.integrity or health.pending or health.unknown:
        return  # the rollup is compared only on a sound file of this version's schema
    try:
        health.rollup_count, health.rollup = rollup_differences(conn)
        now_us = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
        health.quotas = check_quotas(conn, now_us, SHOWN)
    except sqlite3.DatabaseError as exc:
        health.integrity.append(f"the rollup cannot be compared with the events: {exc}")
        return
    health.rollup_checked = True


def integrity_problems(conn: sqlite3.Connection, limit: int = SHOWN) -> list[str]:
    """``PRAGMA integrity_check``'s findings, [] when the file is sound."""
    try:
        rows = conn.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    lines = [line for row in rows for line in str(row[0]).splitlines()]
    return [] if lines == ["ok"] else [line for line in lines if not line.startswith("***")]


def _expected_sql() -> str:
    """The SELECT of the rollup's rebuild: its sums as the events say they are."""
    _, found, select = rollup.REBUILD_SQL[-1].partition(" SELECT ")
    assert found, "rollup.REBUILD_SQL ends with INSERT ... SELECT"
    return "SELECT " + select


def rollup_differences(
    conn: sqlite3.Connection, limit: int = SHOWN
) -> tuple[int, list[RollupDifference]]:
    """How many rollup keys differ from the events' sums, and the first ``limit`` of them."""
    columns = [row[1] for row in conn.execute("PRAGMA table_info(rollup_hourly)")]
    return rollup_differences_from(conn, columns, _expected_sql(), limit)


def rollup_differences_from(
    conn: QueryConnection, columns: Sequence[str], expected_sql: str, limit: int = SHOWN
) -> tuple[int, list[RollupDifference]]:
    """``rollup_differences`` for either backend: ``columns`` are rollup_hourly's, in order;
    ``expected_sql`` selects them summed from the events."""
    compared = list(columns[:-2])  # min_ts and max_ts only grow: never compared
    names = ", ".join(compared)
    all_zero = " AND ".join(f"{name} = 0" for name in compared[5:])
    stored = f"SELECT {names} FROM rollup_hourly WHERE NOT ({all_zero})"
    expected = f"SELECT {names} FROM expected"
    rows = conn.execute(
        f"WITH expected({', '.join(columns)}) AS ({expected_sql}) "
        f"SELECT 0, * FROM ({stored} EXCEPT {expected}) AS a "
        f"UNION ALL SELECT 1, * FROM ({expected} EXCEPT {stored}) AS b"
    ).fetchall()
    by_key: dict[tuple[Any, ...], list[dict[str, int] | None]] = {}
    for row in rows:
        key = tuple(row[1:6])
        sums = dict(zip(compared[5:], (int(v) for v in row[6:])))
        by_key.setdefault(key, [None, None])[int(row[0])] = sums
    differences = [
        RollupDifference(int(k[0]), str(k[1]), str(k[2]), str(k[3]), str(k[4]), *pair)
        for k, pair in sorted(by_key.items())[:limit]
    ]
    return len(by_key), differences

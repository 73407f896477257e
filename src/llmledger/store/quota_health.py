"""``db check`` of the quota tables: do the usage counters equal the events, and are there
reservations left behind (expired, or of a request whose event is already recorded)?

Read-only, on the connection ``store/health.py`` opened. Counters exist only once quotas are
in use on a ledger (``meta.quota_zone``); a ledger that never used them has nothing to check.
``QuotaBook.repair`` (``db repair``) recounts and deletes the stale holds.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from llmledger.store.quota_counters import EXPECTED_SQL
from llmledger.store.sql import QueryConnection

_COLUMNS = "subject, period, io_tokens, cache_tokens, cost_nanos, events"
_NONZERO = "NOT (io_tokens = 0 AND cache_tokens = 0 AND cost_nanos = 0 AND events = 0)"


@dataclass(frozen=True)
class CounterDifference:
    """A subject's counter in one day (``d:``) or month (``m:``) that is not the events' sum."""

    subject: str
    period: str
    stored: tuple[int, int, int, int] | None  # io, cache, cost, events; None: no row
    expected: tuple[int, int, int, int] | None  # None: no events

    def describe(self) -> str:
        def say(values: tuple[int, int, int, int] | None) -> str:
            if values is None:
                return "no row"
            return f"{values[3]:,} events, {values[0] + values[1]:,} tokens"

        return (
            f"{self.subject} {self.period[2:]}: counter {say(self.stored)}; "
            f"events table {say(self.expected)}"
        )


@dataclass
class QuotaHealth:
    counted: bool = False  # quotas are in use: counters are kept
    differing: int = 0  # counter rows that differ from the events
    differences: list[CounterDifference] = field(default_factory=list)  # the first few
    expired_holds: int = 0  # reservations past their expiry, not yet deleted
    settled_holds: int = 0  # reservations of requests whose event is recorded

    @property
    def problems(self) -> bool:
        return bool(self.differing or self.expired_holds or self.settled_holds)

    def to_json(self) -> dict[str, Any]:
        return {
            "counted": self.counted,
            "ok": not self.problems,
            "counterDifferences": self.differing,
            "examples": [d.describe() for d in self.differences],
            "expiredReservations": self.expired_holds,
            "settledReservations": self.settled_holds,
        }


def check_quotas(conn: sqlite3.Connection, now_us: int, shown: int = 20) -> QuotaHealth:
    """Compare the quota counters with the events and count stale holds, at ``now_us``."""
    health = QuotaHealth()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "quota_counters" not in tables:
        return health
    zone = conn.execute("SELECT value FROM meta WHERE key = 'quota_zone'").fetchone()
    if zone is None:
        return health  # quotas never used: nothing counted
    health.counted = True
    health.differing, health.differences = counter_differences(conn, EXPECTED_SQL, shown)
    expired = "SELECT COUNT(*) FROM quota_holds WHERE expires_at <= ?"
    health.expired_holds = int(conn.execute(expired, (now_us,)).fetchone()[0])
    health.settled_holds = int(
        conn.execute(
            "SELECT COUNT(*) FROM quota_holds WHERE expires_at > ? AND (request_id IN "
            "(SELECT id FROM events) OR 'proxy:' || request_id IN (SELECT id FROM events))",
            (now_us,),
        ).fetchone()[0]
    )
    return health


def counter_differences(
    conn: QueryConnection, expected_sql: str, shown: int
) -> tuple[int, list[CounterDifference]]:
    """How many counters differ from ``expected_sql`` (the events' sums in the backend's
    dialect, with quota_counters' columns), and the first ``shown`` of them."""
    stored = f"SELECT {_COLUMNS} FROM quota_counters WHERE {_NONZERO}"
    rows = conn.execute(
        f"WITH expected AS ({expected_sql}) "
        f"SELECT 0, * FROM ({stored} EXCEPT SELECT * FROM expected) AS a "
        f"UNION ALL SELECT 1, * FROM (SELECT * FROM expected EXCEPT {stored}) AS b"
    ).fetchall()
    by_key: dict[tuple[str, str], list[tuple[int, int, int, int] | None]] = {}
    for row in rows:
        values = (int(row[3]), int(row[4]), int(row[5]), int(row[6]))
        by_key.setdefault((str(row[1]), str(row[2])), [None, None])[int(row[0])] = values
    differences = [
        CounterDifference(subject, period, pair[0], pair[1])
        for (subject, period), pair in sorted(by_key.items())[:shown]
    ]
    return len(by_key), differences

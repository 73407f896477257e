"""``db copy``: one ledger's contents into another, whatever their backends (SQLite ↔
PostgreSQL), through the Store protocol only.

Events go in time order, in batches, each its own transaction, with their stored costs (never
re-priced). After each batch the target remembers how far it got (meta ``copy:<source>``), so
an interrupted copy resumes from there (a verified copy forgets it: the next copy reads the
whole source again); ids make re-copied events count once. Then scan
cursors, gateway keys, plans, add-ons, budgets, alert states and rate-window readings follow
(reservations are transient and stay behind), and the copy is verified: each month's event
count and sums, read from the events of both ledgers, must be equal.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import msgspec

from llmledger.errors import StoreError
from llmledger.query import US_PER_DAY, DaySegments, EventFilter, Totals
from llmledger.quota.records import AlertState, Budget, Grant, QuotaReader
from llmledger.store.base import Store

# What a month's verification compares.
MONTH_FIELDS = (
    "events",
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cost_nanos",
)
_UTC_DAYS = DaySegments(bounds=(), offsets=(0,))


@dataclass
class CopyResult:
    copied: int = 0  # events written to the target (new ids and larger copies)
    read: int = 0  # events read from the source in this run
    resumed_from: int | None = None  # UTC microseconds a resumed copy started at
    extras: dict[str, int] = field(default_factory=dict)  # cursors, keys, plans, ... copied
    months: dict[str, tuple[int, int]] = field(default_factory=dict)  # month -> (source, target)
    mismatched: list[str] = field(default_factory=list)  # months whose sums differ

    @property
    def verified(self) -> bool:
        return not self.mismatched


def month_sums(store: Store) -> dict[str, dict[str, int]]:
    """Each UTC month's event count and sums, summed from the events themselves (grouping by
    user as well keeps any precomputed rollup out of it)."""
    months: dict[str, Totals] = {}
    for row in store.aggregate(EventFilter(), ["day", "user"], _UTC_DAYS):
        day = datetime.fromtimestamp(int(row.key["day"]) * US_PER_DAY // 1_000_000, timezone.utc)
        months.setdefault(day.strftime("%Y-%m"), Totals()).add(row.totals)
    return {
        month: {name: int(getattr(totals, name)) for name in MONTH_FIELDS}
        for month, totals in sorted(months.items())
    }


def _meta_key(source: Store) -> str:
    return f"copy:{source.location}"


def copy_ledger(
    source: Store,
    target: Store,
    *,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> CopyResult:
    """Copy ``source`` into ``target``, resuming where an earlier copy stopped; verify."""
    if source.location == target.location:
        raise StoreError(f"--from and --to name the same ledger ({source.location})")
    result = CopyResult()
    done = target.get_meta(_meta_key(source))
    flt = EventFilter()
    if done:
        result.resumed_from = int(done)
        flt = EventFilter(since_us=result.resumed_from)  # events at that instant again: ids
    events = source.iter_events(flt)
    while chunk := list(itertools.islice(events, batch)):
        result.read += len(chunk)
        result.copied += target.write_events(chunk)
        last = max(e.ts for e in chunk)
        target.set_meta(_meta_key(source), str(_us(last)))
        if progress is not None:
            progress(result.read)
    result.extras = _copy_bookkeeping(source, target)
    before = month_sums(source)
    after = month_sums(target)
    for month in sorted(set(before) | set(after)):
        ours, theirs = before.get(month), after.get(month)
        result.months[month] = ((ours or {}).get("events", 0), (theirs or {}).get("events", 0))
        if ours != theirs:
            result.mismatched.append(month)
    if result.verified:
        # Done: a later copy starts from the beginning (the source may have gained events
        # older than the last one copied, e.g. from a scan of old logs); ids count once.
        target.set_meta(_meta_key(source), "")
    return result


def _us(moment: datetime) -> int:
    from llmledger.store.rows import to_us

    return to_us(moment)


def _copy_bookkeeping(source: Store, target: Store) -> dict[str, int]:
    copied: dict[str, int] = {}
    cursors = list(source.scan_cursors().values())
    if cursors:
        target.write_scan([], cursors)
    copied["scan cursors"] = len(cursors)
    keys = 0
    for key in source.list_keys():
        if target.get_key(key.id) is None:
            target.add_key(key)
            keys += 1
    copied["gateway keys"] = keys

    def read_all(
        r: QuotaReader,
    ) -> tuple[dict[str, str], list[Grant], list[Budget], list[AlertState]]:
        return r.assigned_plans(), r.grants(), r.budgets(), r.alert_states()

    plans, grants, budgets, alerts = source.read_quotas(read_all)
    now = datetime.now(timezone.utc)
    for subject, plan in plans.items():
        target.assign_plan(subject, plan, now)
    copied["plans"] = len(plans)
    copied["add-ons"] = sum(1 for grant in grants if target.add_grant(grant)[1])
    existing = {b.id for b in target.read_quotas(lambda r: r.budgets())}
    fresh = [b for b in budgets if b.id not in existing]
    for budget in fresh:
        target.add_budget(budget)
    copied["budgets"] = len(fresh)
    for state in alerts:
        target.mark_alert(msgspec.structs.replace(state, resolved_at=None))
        if state.resolved_at is not None:
            target.mark_alert(state)
    copied["alert states"] = len(alerts)
    readings = source.rate_windows()
    copied["rate-window readings"] = target.record_rate_windows(readings) if readings else 0
    return copied

"""The Store interface: what the Ledger asks of a database, whatever the backend.

A Store owns its database: it writes usage events (idempotently, by id), a scan's events with
the cursors of the files they came from (in one transaction), costs after a re-pricing; it sums
events for reports, and keeps scan cursors, gateway keys, metadata and the quota tables
(plans, add-ons, budgets, alerts, reservations, usage counters: quota/records.py). How rows are
laid out, batched and summed is the backend's business: nothing outside ``store/`` knows it.

``SQLiteStore`` (store/sqlite.py) is the embedded default; ``open_store`` picks the backend a
URL names. The Ledger is the only caller: everyone else goes through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import NamedTuple, Protocol

from llmledger.bookkeeping import KeyStorage, ScanCursor, ScanProcess
from llmledger.errors import StoreError
from llmledger.events import UsageEvent
from llmledger.query import DaySegments, EventFilter, GroupRow, Totals
from llmledger.quota.records import QuotaStorage
from llmledger.rate_windows import RateWindowStorage

__all__ = ["CostUpdate", "Store"]


class CostUpdate(NamedTuple):
    """A stored event's new cost after re-pricing."""

    event_id: str
    cost_nanos: int | None
    cost_status: str
    price_version: str | None


class Store(KeyStorage, QuotaStorage, RateWindowStorage, Protocol):
    """A ledger database. Implementations are thread-safe and serialize their writes."""

    # -- state ---------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the database is, for messages: a file path or a URL without secrets."""
        ...

    @property
    def readonly(self) -> bool:
        """True when nothing may be written (opened so, or the file cannot be written)."""
        ...

    @property
    def why_readonly(self) -> str:
        """Why the store is read-only, for people ("" when it is writable)."""
        ...

    def read_only_error(self) -> StoreError:
        """The error a write to this read-only store raises, saying what to do."""
        ...

    def explain(self, exc: BaseException) -> StoreError | None:
        """What a backend error raised while using this store means (None: not one of its)."""
        ...

    def applied_migrations(self) -> list[str]: ...

    def close(self) -> None: ...

    # -- usage events --------------------------------------------------------------------------

    def write_events(
        self,
        events: Iterable[UsageEvent],
        *,
        per_model: dict[str, Totals] | None = None,
        prepare: Callable[[list[UsageEvent]], None] | None = None,
    ) -> int:
        """Record events in one transaction (all or nothing); returns rows written.

        A stored id is replaced only by a copy with more tokens. ``prepare`` (pricing) runs on
        each batch of events first; ``per_model`` receives the sums of what was written."""
        ...

    def write_scan(
        self,
        events: Sequence[UsageEvent],
        cursors: Sequence[ScanCursor],
        replace: AbstractSet[str] = frozenset(),
    ) -> int:
        """A scan's de-duplicated events and the cursors of the files they came from, in ONE
        transaction; returns rows written. Ids in ``replace`` replace their stored copy even
        with fewer tokens (the scan knows this copy is preferred)."""
        ...

    def update_costs(self, updates: Iterable[CostUpdate]) -> int:
        """Set new costs of stored events (sums included); returns events changed."""
        ...

    def rebuild_rollup(self) -> None:
        """Recompute any precomputed sums from the events (repair)."""
        ...

    def count(self, flt: EventFilter | None = None) -> int: ...

    def time_span(self, flt: EventFilter | None = None) -> tuple[int, int] | None:
        """First and last timestamp (UTC microseconds) of the matching events."""
        ...

    def aggregate(
        self, flt: EventFilter, dims: Sequence[str], segments: DaySegments | None = None
    ) -> list[GroupRow]:
        """Summed totals per group of ``dims`` (``query.DIMENSIONS``, plus ``day``, which
        needs the time zone's ``segments``)."""
        ...

    def unpriced_models(self, flt: EventFilter) -> list[str]: ...

    def iter_events(self, flt: EventFilter | None = None) -> Iterator[UsageEvent]:
        """Matching events by time, read in chunks (bounded memory)."""
        ...

    def get_event(self, event_id: str) -> UsageEvent | None: ...

    def scan_process(self) -> ScanProcess | None:
        """A process of its own that writes a big scan, if the backend has one (None: the
        scan writes through ``write_scan`` from a thread)."""
        ...

    # -- scan cursors and metadata -------------------------------------------------------------

    def scan_cursors(self) -> dict[str, ScanCursor]:
        """Every file's cursor, by path."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

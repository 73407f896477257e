"""Ledger: record usage events (priced at ingest) and read them back as summaries and reports.

A Ledger owns one Store and one PriceBook. ``Ledger()`` opens the embedded default (SQLite in
the data dir); ``Ledger(path_or_url)`` opens another; ``create=False`` never makes a new one and
``readonly=True`` never writes (see store/connect.py).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, timedelta, tzinfo
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import msgspec

from llmledger.bookkeeping import Keys, ScanCursor, ScanProcess
from llmledger.config import Config, load_config
from llmledger.errors import InvalidEventError
from llmledger.events import UsageEvent, parse_timestamp
from llmledger.paths import cache_dir, default_config_path, default_db_path
from llmledger.query import EventFilter, GroupRow, Totals
from llmledger.quota.records import QuotaBatchStorage
from llmledger.rate_windows import RateWindow
from llmledger.report.aggregate import Report, ReportKind, ReportOptions, build_report
from llmledger.report.render.jsonout import report_data, totals_fields
from llmledger.report.timezones import resolve_zone, today
from llmledger.store import Store, open_store
from llmledger.store.base import CostUpdate
from llmledger.writer import BackgroundWriter

if TYPE_CHECKING:
    from llmledger.pricing.book import PriceBook
    from llmledger.quota.records import CounterRange, QuotaBatch, Settled
    from llmledger.quota.service import QuotaBook

_EVENT_FIELDS = frozenset(f.name for f in dataclass_fields(UsageEvent))

log = logging.getLogger("llmledger")

Observer = Callable[[Sequence[UsageEvent]], None]


def resolve_db_url(
    url: str | Path | None, config: Config | None, env: Mapping[str, str]
) -> str | Path:
    """Explicit argument, then ``LLMLEDGER_DB``, then the config's ``db``, then the default."""
    if url is not None:
        return url
    if env.get("LLMLEDGER_DB"):
        return env["LLMLEDGER_DB"]
    if config is not None and config.db:
        return config.db
    return default_db_path(env)


class Ledger:
    """The ledger of LLM usage events."""

    def __init__(
        self,
        url: str | Path | None = None,
        *,
        config: Config | None = None,
        prices: PriceBook | None = None,
        env: Mapping[str, str] | None = None,
        create: bool = True,
        readonly: bool = False,
    ) -> None:
        self._env = os.environ if env is None else env
        if config is None:
            config = load_config(default_config_path(self._env))
        self.config = config
        self.url = resolve_db_url(url, config, self._env)
        self._observers: tuple[Observer, ...] = ()
        self._observers_lock = threading.Lock()
        if "LLMLEDGER_OTEL" in self._env or "otel" in config.raw:  # OpenTelemetry export
            from llmledger.otel.auto import export_if_configured

            export_if_configured(self, self._env)
        # The database; the package reaches it only through this class's methods.
        self.store: Store = open_store(self.url, create=create, readonly=readonly)
        self._prices = prices
        self._session = Totals()
        self._session_models: dict[str, Totals] = {}
        self._session_lock = threading.Lock()
        self._writer: BackgroundWriter | None = None
        self._writer_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush what was submitted, then close the store."""
        if self._writer is not None:
            self._writer.close()
        self.store.close()

    def flush(self, timeout: float | None = None) -> bool:
        """Make everything recorded or submitted so far durable; False if ``timeout`` passed."""
        if self._writer is None:
            return True
        return self._writer.flush(timeout)

    @property
    def writer_if_started(self) -> BackgroundWriter | None:
        """The background writer, or None while nothing was submitted (no thread started)."""
        return self._writer

    @property
    def writer(self) -> BackgroundWriter:
        """The single background writer behind :meth:`submit` (started on first use)."""
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = BackgroundWriter(self._write_batch)
        return self._writer

    def _write_batch(self, events: Sequence[UsageEvent]) -> None:
        self.record_many(list(events))

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        # An sqlite3 error not said in words where it was raised (explained before closing).
        error = self.store.explain(exc) if exc is not None else None
        self.close()
        if error is not None:
            raise error from exc

    @property
    def prices(self) -> PriceBook:
        """The price book, loaded on first use (reports never need it)."""
        if self._prices is None:
            from llmledger.pricing.book import PriceBook  # not imported by commands that only read

            self._prices = PriceBook.default(cache_dir(self._env), self.config.pricing)
        return self._prices

    # -- recording -----------------------------------------------------------------------------

    @cached_property
    def host(self) -> str:
        """The machine this ledger records events on (llmledger/host.py), found on first use."""
        from llmledger.host import resolve_host

        return resolve_host(self._env, self.config.raw)

    def stamp_host(self, events: Iterable[UsageEvent]) -> None:
        """Give each event without a ``host`` this machine's (a caller's own is kept)."""
        host = self.host
        for event in events:
            if not event.host:
                event.host = host

    def _prepare(self, events: list[UsageEvent]) -> None:
        """What every write does to a batch first: the host, then the prices."""
        self.stamp_host(events)
        self.prices.price_events(events)

    def record(self, event: UsageEvent | None = None, /, **fields: Any) -> UsageEvent:
        """Record one event (or build it from keyword fields); returns the priced event.

        Recording an id that is already in the ledger never adds to the totals.
        """
        if event is None:
            event = self.make_event(**fields)
        elif fields:
            raise TypeError("pass either a UsageEvent or keyword fields, not both")
        event.validate()
        self.stamp_host([event])
        self.prices.price_event(event)
        per_model: dict[str, Totals] = {}
        written = self.store.write_events([event], per_model=per_model)
        self._remember(per_model)
        if self._observers and written:
            self._notify([event])
        return event

    def submit(self, event: UsageEvent) -> Future[None]:
        """Record off the caller's path: queue the event for the background writer.

        Returns a Future that resolves once the event is committed. Write failures are
        counted and logged at ERROR level by the writer, never raised into the caller.
        """
        event.validate()
        return self.writer.submit(event)

    def record_many(self, events: Iterable[UsageEvent]) -> int:
        """Record many events in one transaction (all or nothing); returns rows written."""
        per_model: dict[str, Totals] = {}
        if self._observers:
            events = list(events)
        written = self.store.write_events(events, per_model=per_model, prepare=self._prepare)
        self._remember(per_model)
        if self._observers and written:
            self._notify(list(events))
        return written

    @staticmethod
    def make_event(**fields: Any) -> UsageEvent:
        unknown = sorted(set(fields) - _EVENT_FIELDS - {"cost"})
        if unknown:
            raise InvalidEventError(f"unknown event field(s): {', '.join(unknown)}")
        if "cost" in fields:
            from llmledger.events import usd_to_nanos

            cost = fields.pop("cost")
            if cost is not None:
                fields["cost_nanos"] = usd_to_nanos(cost)
                fields.setdefault("cost_status", "reported")
        if "ts" in fields and fields["ts"] is not None:
            fields["ts"] = parse_timestamp(fields["ts"])
        elif "ts" in fields:
            del fields["ts"]
        if fields.get("tags") is not None:
            fields["tags"] = tuple(fields["tags"])
        try:
            event = UsageEvent(**fields)
        except TypeError as exc:
            raise InvalidEventError(str(exc)) from exc
        event.validate()
        return event

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` with the events of each write once it is committed (priced, in
        this process; a batch with a copy already stored is passed whole). Its errors are
        logged, never raised into the write. Returns the function that stops it."""
        with self._observers_lock:
            self._observers = (*self._observers, observer)

        def stop() -> None:
            with self._observers_lock:
                self._observers = tuple(o for o in self._observers if o is not observer)

        return stop

    def _notify(self, events: Sequence[UsageEvent]) -> None:
        for observer in self._observers:
            try:
                observer(events)
            except Exception:  # an observer must never undo or fail a committed write
                log.exception("ledger observer %r failed", observer)

    def _remember(self, per_model: Mapping[str, Totals]) -> None:
        """Add what a write stored to this process's session totals."""
        with self._session_lock:
            for model, totals in per_model.items():
                self._session.add(totals)
                self._session_models.setdefault(model, Totals()).add(totals)

    # -- the scan ------------------------------------------------------------------------------

    def scan_cursors(self) -> dict[str, ScanCursor]:
        """How far each agent-log file was read, by path."""
        return self.store.scan_cursors()

    def write_scan(
        self,
        events: list[UsageEvent],
        cursors: Sequence[ScanCursor],
        replace: AbstractSet[str] = frozenset(),
    ) -> int:
        """A scan's de-duplicated events, priced here, and the cursors of the files they came
        from, in ONE transaction; returns rows written. Ids in ``replace`` replace their stored
        copy even with fewer tokens (the scan knows this copy is preferred)."""
        if events:
            self._prepare(events)
        written = self.store.write_scan(events, cursors, replace)
        if self._observers and written:
            self._notify(events)
        return written

    def scan_process(self) -> ScanProcess | None:
        """A process of its own writing a big scan, when the store has one (call it before
        starting other processes or threads)."""
        return self.store.scan_process()

    # -- the agents' official limit windows ------------------------------------------------------

    def record_rate_windows(self, readings: Iterable[RateWindow]) -> int:
        """Keep readings of the agents' official usage-limit windows (rate_windows.py);
        returns how many were new (a reading already kept is ignored)."""
        return self.store.record_rate_windows(readings)

    def rate_windows(
        self, *, since_us: int | None = None, source: str | None = None
    ) -> list[RateWindow]:
        """Kept readings observed at or after ``since_us``, oldest first."""
        return self.store.rate_windows(since_us=since_us, source=source)

    # -- keys and maintenance --------------------------------------------------------------------

    @property
    def keys(self) -> Keys:
        """The gateway's client keys (hashes only)."""
        return Keys(self.store)

    @property
    def readonly(self) -> bool:
        return self.store.readonly

    @property
    def why_readonly(self) -> str:
        return self.store.why_readonly

    def read_only_error(self) -> Exception:
        """The error a write to this read-only ledger raises, saying what to do."""
        return self.store.read_only_error()

    @property
    def location(self) -> str:
        """Where the database is, for messages."""
        return self.store.location

    def rebuild_rollup(self) -> None:
        """Recompute the store's precomputed sums from the events (``db repair``)."""
        self.store.rebuild_rollup()

    # -- reading -------------------------------------------------------------------------------

    def count(self, flt: EventFilter | None = None) -> int:
        """How many events match ``flt`` (all of them by default)."""
        return self.store.count(flt)

    def aggregate(self, flt: EventFilter, dims: Sequence[str]) -> list[GroupRow]:
        """Summed totals per group of ``dims`` (names in ``query.DIMENSIONS``)."""
        return self.store.aggregate(flt, dims)

    def build_report(self, options: ReportOptions) -> Report:
        return build_report(self.store, options)

    def _window(self, days: int, tz: str | tzinfo | None) -> tuple[ReportOptions, date, date]:
        if days < 1:
            raise ValueError("days must be at least 1")
        zone = tz if isinstance(tz, tzinfo) else resolve_zone(tz)
        until = today(zone)
        since = until - timedelta(days=days - 1)
        return ReportOptions(kind="daily", zone=zone, since=since, until=until), since, until

    def summary(self, days: int = 30, *, tz: str | tzinfo | None = None) -> dict[str, Any]:
        """Usage of the last ``days`` days (today included) in ccusage-style camelCase fields:
        ``totals``, ``daily`` rows, ``models`` rows and ``unpricedModels``."""
        options, since, until = self._window(days, tz)
        daily = self.build_report(options)
        models = self.build_report(msgspec.structs.replace(options, kind="models"))
        return {
            "days": days,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "timezone": daily.zone_name,
            "totals": totals_fields(daily.totals),
            "daily": report_data(daily)["daily"],
            "models": report_data(models)["models"],
            "unpricedModels": daily.unpriced_models,
        }

    def report(self, days: int = 7, *, tz: str | tzinfo | None = None, width: int = 80) -> str:
        """A formatted daily table of the last ``days`` days."""
        from llmledger.report.render.text import render_report  # the table code: only here

        options, _, _ = self._window(days, tz)
        return render_report(self.build_report(options), width=width)

    def report_for(self, kind: ReportKind, **options: Any) -> Report:
        return self.build_report(ReportOptions(kind=kind, **options))

    def session_usage(self) -> dict[str, Any]:
        """What this Ledger object recorded in this process, in total and per model."""
        with self._session_lock:
            return {
                "totals": totals_fields(self._session),
                "models": {m: totals_fields(t) for m, t in sorted(self._session_models.items())},
            }

    def events(self, flt: EventFilter | None = None) -> Iterator[UsageEvent]:
        return self.store.iter_events(flt)

    def get(self, event_id: str) -> UsageEvent | None:
        return self.store.get_event(event_id)

    # -- maintenance ---------------------------------------------------------------------------

    def reprice(self, flt: EventFilter | None = None, *, include_reported: bool = False) -> int:
        """Recompute stored costs with the current price book; returns events changed."""
        book = self.prices
        updates: list[CostUpdate] = []
        changed = 0
        for event in self.store.iter_events(flt):
            if event.cost_status == "reported" and not include_reported:
                continue
            before = (event.cost_nanos, event.cost_status)
            if include_reported:
                event.cost_status = "computed"
            book.price_event(event)
            if (event.cost_nanos, event.cost_status) != before:
                updates.append(
                    CostUpdate(event.id, event.cost_nanos, event.cost_status, event.price_version)
                )
            if len(updates) >= 5_000:
                changed += self.store.update_costs(updates)
                updates = []
        if updates:
            changed += self.store.update_costs(updates)
        return changed

    # -- a response the app already holds ------------------------------------------------------

    def record_response(
        self,
        payload: Mapping[str, Any] | bytes | str,
        /,
        *,
        provider: str | None = None,
        **fields: Any,
    ) -> UsageEvent | None:
        """Record the usage of a provider's JSON response that the app already holds: the
        parsed body, or its bytes or text, in any shape capture reads (OpenAI Chat, Responses
        or embeddings, Anthropic, Gemini, compatible vendors), normalized as capture does.

        ``provider`` names who answered (``"dashscope"``, ``"deepseek"``: vendor fields and
        pricing); ``fields`` are attribution (``user_id``, ``org_id``, ``session_id``,
        ``request_type``, ``project``, ``tags`` …) or any other event field (``model``,
        ``latency_ms``, ``ts``). The id is ``call:<response id>``, as capture's, so a response
        also metered by ``instrument`` or the middleware counts once. Returns the recorded
        event, or None when the body reports no usage.
        """
        from llmledger.usage.normalize import normalize_usage
        from llmledger.usage.sse import decode_json

        body = decode_json(payload) if isinstance(payload, (bytes, str)) else payload
        if not isinstance(body, Mapping):
            raise TypeError("record_response() takes a JSON object: a dict, or its bytes or text")
        counts = normalize_usage(body, provider)
        if counts is None:
            return None
        response_id = body.get("id") or body.get("responseId")
        reported = {
            "model": body.get("model") or body.get("modelVersion") or "unknown",
            "source": "manual",
            "provider": provider,
        }
        if isinstance(response_id, str) and response_id:
            reported["id"] = f"call:{response_id}"
        event = self.make_event(**{**reported, **fields})
        counts.apply_to(event)
        return self.record(event)

    # -- plans, add-ons, budgets and reservations ----------------------------------------------

    @cached_property
    def quotas(self) -> QuotaBook:
        """The quota service over this ledger (quota/service.py), with the config's
        ``[quotas]`` and ``[plans.*]``: meters, plans, add-ons, budgets, alerts, and the
        gateway's reserve/settle cycle."""
        from llmledger.quota.service import QuotaBook

        return QuotaBook(self)

    def usage_summary(
        self,
        user_id: str | None = None,
        org_id: str | None = None,
        *,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A user's (or org's) meter this month, as ``GET /api/account/usage`` returns it:
        ``{"month": "2026-01", "used": 15000, "limit": 50000, "remaining": 35000,
        "percent": 30, "addOn": 0, "plan": "hobby", …}``."""
        return self.quotas.summary(user_id, org_id, at)

    def record_user_tokens(
        self,
        user_id: str,
        tokens: int,
        *,
        org_id: str | None = None,
        source: str = "manual",
        model: str = "unknown",
        event_id: str | None = None,
    ) -> UsageEvent:
        """Record a bare token count against a user's meter (the original app's
        ``recordUserTokens``): ``tokens`` input tokens of ``model`` (unpriced unless the model
        has a price), source ``manual`` (the simulate endpoint passes ``simulated``)."""
        return self.quotas.record_tokens(
            user_id, tokens, org_id=org_id, source=source, model=model, event_id=event_id
        )

    def estimate(
        self,
        request: Mapping[str, Any],
        *,
        api: str | None = None,
        user_id: str | None = None,
        org_id: str | None = None,
        key_id: str | None = None,
        check_quotas: bool = True,
        reserve_output_tokens: int = 4096,
    ) -> dict[str, Any]:
        """What a request would use and cost, before it is sent (``POST /api/estimate``):
        ``request`` is its body as the client would send it (``model``, ``messages`` or
        ``input``, its max output). Returns ``inputTokens`` (offline tokenizer, ``estimated``),
        ``maxOutputTokens`` (``reserve_output_tokens`` when it sets none), ``costMin`` /
        ``costMax`` in USD (None when the model has no price), and, for a user or org,
        whether their plan and budgets would admit it now (``admitted``, ``refusal``)."""
        from llmledger.request_estimate import estimate_request

        return estimate_request(
            self,
            request,
            api=api,
            user_id=user_id,
            org_id=org_id,
            key_id=key_id,
            check_quotas=check_quotas,
            reserve_output_tokens=reserve_output_tokens,
        )

    def record_settled(
        self,
        event: UsageEvent,
        request_id: str,
        *,
        counters: Sequence[CounterRange] = (),
        alert_keys: Sequence[str] = (),
    ) -> Settled:
        """Record one event (priced in place) and drop the quota holds of the request it
        settles, in ONE transaction; ``counters`` and the alert states of ``alert_keys`` are
        read back in it (``QuotaBook.settle`` calls this)."""
        event.validate()
        self.stamp_host([event])
        self.prices.price_event(event)
        per_model: dict[str, Totals] = {}
        settled = self.store.write_settled(
            [event], request_id, per_model=per_model, counters=counters, alert_keys=alert_keys
        )
        self._remember(per_model)
        if self._observers:
            self._notify([event])
        return settled

    @cached_property
    def batches_quotas(self) -> bool:
        """Whether the store runs quota work inside the writer's group commit
        (:meth:`record_batch`); SQLite does."""
        return isinstance(self.store, QuotaBatchStorage)

    def record_batch(self, events: Sequence[UsageEvent], work: Callable[[QuotaBatch], None]) -> int:
        """Record ``events`` (priced in place) and run ``work`` on the quota tables
        in ONE transaction: the writer's group commit with the gateway's reservations and
        settles (quota/batching.py). Returns rows written."""
        if not self.batches_quotas:  # checked once: a protocol check per batch is slow
            raise TypeError(f"{type(self.store).__name__} cannot batch quota work")
        store = cast(QuotaBatchStorage, self.store)
        per_model: dict[str, Totals] = {}
        written = store.write_batch(events, work, per_model=per_model, prepare=self._prepare)
        self._remember(per_model)
        if self._observers and written:
            self._notify(events)
        return written

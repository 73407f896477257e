"""Turning one finished call into one UsageEvent, and handing it to the ledger off the app's path.

A ``CallRecorder`` is made when a metered call's response starts; exactly one of its
``record_*`` / ``finish`` calls wins (later calls are no-ops), so a stream that is exhausted,
closed, cut and garbage collected is still recorded once. A call that finished (a whole
response, a stream read to the end) is handed to the ledger's writer thread, which reads its
usage and builds the event before pricing and SQL (``Sink.defer``); a stream cut or closed
early is read here and its event queued with ``Ledger.submit``. Nothing here raises into the
app: a ledger that cannot take the event is logged at ERROR and counted in ``stats``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache, partial
from time import perf_counter, time
from typing import TYPE_CHECKING, Any

from llmledger.capture.calls import CallSpec, shape_of
from llmledger.capture.context import EMPTY, Attribution
from llmledger.capture.meter import SSEMeter, json_envelope
from llmledger.estimate import estimate_request_tokens, estimate_tokens, tokenizer_name
from llmledger.events import UsageEvent
from llmledger.usage._access import as_text, first_of
from llmledger.usage.compat import with_openrouter_cost
from llmledger.usage.counts import TokenCounts
from llmledger.usage.normalize import Normalizer, normalizer_for
from llmledger.usage.openai import openai_embeddings_usage
from llmledger.usage.sse import decode_json
from llmledger.usage.streams import StreamAccumulator, stream_for
from llmledger.usage.text import response_text
from llmledger.writer import BackgroundWriter

if TYPE_CHECKING:
    from llmledger.ledger import Ledger

__all__ = ["CallRecorder", "CaptureStats", "Sink", "StreamRecorder", "build_event", "stats"]

log = logging.getLogger("llmledger.capture")


@dataclass
class CaptureStats:
    """Events capture could not hand to a ledger (the ledger's own writer counts the events it
    took but failed to write in ``ledger.writer.failed``)."""

    dropped: int = 0
    last_error: BaseException | None = None


stats = CaptureStats()
_stats_lock = threading.Lock()


def _dropped(event: UsageEvent, exc: BaseException) -> None:
    with _stats_lock:
        stats.dropped += 1
        stats.last_error = exc
        dropped = stats.dropped
    log.error(
        "llmledger could not record usage of %s call %s: %s (%d dropped so far)",
        event.model,
        event.id,
        exc,
        dropped,
    )


class Sink:
    """Where a client's events go: the ledger given to ``instrument``, else the default ledger
    (looked up per event, so ``set_default_ledger`` takes effect at once)."""

    __slots__ = ("ledger",)

    def __init__(self, ledger: Ledger | None) -> None:
        self.ledger = ledger

    def resolve(self) -> Ledger:
        if self.ledger is not None:
            return self.ledger
        from llmledger.default import default_ledger

        return default_ledger()

    def submit(self, event: UsageEvent) -> None:
        """Queue ``event`` for the ledger's writer; never raises."""
        try:
            ledger = self.resolve()
            future = ledger.submit(event)
        except Exception as exc:
            _dropped(event, exc)
            return
        if future.done() and future.exception() is not None:
            # The writer is closed (interpreter exit ran its atexit hook first): write directly.
            try:
                ledger.record(event)
            except Exception as exc:
                _dropped(event, exc)

    def defer(self, build: Callable[[], UsageEvent | None]) -> None:
        """Have the ledger's background writer build the event (``build``) and write it: off
        the app's path, like pricing and SQL. A ledger without one gets it built here. Never
        raises; ``build`` logs its own failures and returns None."""
        try:
            writer = getattr(self.resolve(), "writer", None)
            if isinstance(writer, BackgroundWriter):
                future = writer.submit(build)
                if not (future.done() and future.exception() is not None):
                    return
        except Exception:
            log.debug("deferred recording unavailable; recording here", exc_info=True)
        event = build()  # no writer, or it is closed (interpreter exit): build it here
        if event is not None:
            self.submit(event)


def event_id(source: str, response_id: str | None) -> str:
    """The ledger key of a captured call: ``call:<provider response id>`` whichever capture
    path saw it (an app metered by both ``instrument`` and the middleware records the call
    once), else a fresh ``<source>:<uuid>``."""
    if response_id:
        return f"call:{response_id}"
    return f"{source}:{uuid.uuid4().hex}"


def build_event(
    *,
    source: str,
    spec: CallSpec,
    attribution: Attribution,
    counts: TokenCounts | None,
    model: str | None,
    response_id: str | None,
    latency_ms: float,
    success: bool,
    status: str,
    details: dict[str, Any],
    ts: float | None = None,
) -> UsageEvent:
    """The UsageEvent of one call (pure apart from the id it mints, and the timestamp when
    ``ts``, the epoch time the call ended, is not given)."""
    event = UsageEvent(
        model=model or spec.model or "unknown",
        ts=datetime.now(timezone.utc) if ts is None else datetime.fromtimestamp(ts, timezone.utc),
        id=event_id(source, response_id),
        source=source,
        provider=spec.provider,
        latency_ms=round(latency_ms, 3),
        success=success,
        status=status,
        details=details,
        **attribution.event_fields(),
    )
    if counts is not None:
        counts.apply_to(event)
    return event


@lru_cache(maxsize=64)
def _normalizer(api: str, provider: str | None) -> Normalizer:
    if api != "embeddings":
        return normalizer_for(shape_of(api), provider)  # type: ignore[arg-type]
    if provider == "openrouter":
        return lambda payload: with_openrouter_cost(openai_embeddings_usage(payload), payload)
    return openai_embeddings_usage


def _failure_status(exc: BaseException) -> str:
    code = getattr(exc, "status_code", None)
    return str(code) if isinstance(code, int) else type(exc).__name__


class CallRecorder:
    """One metered call: records its whole response or its failure, once.

    ``attribution`` holds the defaults; ``scope`` the ``attribute`` blocks in effect when the
    call started, merged over them only when the event is built (off the app's path).
    """

    __slots__ = ("_done", "_lock", "attribution", "scope", "sink", "source", "spec", "started")

    def __init__(
        self,
        sink: Sink,
        spec: CallSpec,
        attribution: Attribution,
        *,
        source: str = "sdk",
        scope: Attribution = EMPTY,
    ) -> None:
        self.sink = sink
        self.spec = spec
        self.attribution = attribution
        self.scope = scope
        self.source = source
        self.started = perf_counter()
        self._done = False
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        return self._done

    def _claim(self) -> bool:
        with self._lock:
            if self._done:
                return False
            self._done = True
            return True

    def _elapsed_ms(self) -> float:
        return (perf_counter() - self.started) * 1000.0

    def _details(self) -> dict[str, Any]:
        return {"api": self.spec.api}

    def _input_estimate(self) -> int:
        spec = self.spec
        return estimate_request_tokens(spec.api, spec.body, spec.model)

    def _checked(self, build: Callable[[], UsageEvent]) -> UsageEvent | None:
        """``build()`` validated; None (logged, counted as dropped) when it cannot be built."""
        try:
            event = build()
        except Exception:
            log.error("llmledger could not read the usage of a %s call", self.spec.api)
            log.debug("usage extraction failed", exc_info=True)
            return None
        try:
            event.validate()
        except Exception as exc:
            _dropped(event, exc)
            return None
        return event

    def record_response(self, response: object) -> None:
        """A whole response, parsed (a dict or an SDK object): the ledger's writer reads its
        usage."""
        if not self._claim():
            return
        build = partial(self._whole_event, response, lambda: response, self._elapsed_ms(), time())
        self.sink.defer(partial(self._checked, build))

    def record_body(self, body: bytes) -> None:
        """A whole JSON response body as it came (decoded of any content coding): the ledger's
        writer parses it, only its usage-bearing fields unless an estimate needs the text."""
        if not self._claim():
            return
        build = partial(self._body_event, body, self._elapsed_ms(), time())
        self.sink.defer(partial(self._checked, build))

    def _body_event(self, body: bytes, latency: float, ts: float) -> UsageEvent:
        envelope = json_envelope(body) if body else None
        return self._whole_event(envelope or {}, lambda: decode_json(body), latency, ts)

    def _whole_event(
        self, head: object, whole: Callable[[], object], latency: float, ts: float
    ) -> UsageEvent:
        """The event of a whole response: usage, model and id read from ``head``; the output
        text from ``whole()`` only when the usage must be estimated."""
        spec = self.spec
        counts = _normalizer(spec.api, spec.provider)(head)
        if counts is None:
            counts = self._estimate_whole(whole())
        return build_event(
            source=self.source,
            spec=spec,
            attribution=self.attribution.merged(self.scope),
            counts=counts,
            model=as_text(first_of(head, "model", "modelVersion")),
            response_id=as_text(first_of(head, "id", "responseId")),
            latency_ms=latency,
            success=True,
            status="ok",
            details=self._details(),
            ts=ts,
        )

    def _estimate_whole(self, response: object) -> TokenCounts:
        spec = self.spec
        output = 0
        if spec.api != "embeddings" and response is not None:
            output = estimate_tokens(response_text(shape_of(spec.api), response), spec.model)
        return TokenCounts(
            input_tokens=self._input_estimate(),
            output_tokens=output,
            estimated=True,
            details={"estimator": tokenizer_name()},
        )

    def record_failure(
        self, exc: BaseException | None = None, *, status: str | None = None
    ) -> None:
        """The call failed before any usable response (an HTTP error status, a connection
        error): a failed event with no tokens. ``status`` defaults to the error's HTTP status
        or type name."""
        if not self._claim():
            return
        try:
            details = self._details()
            if exc is not None:
                details["error"] = type(exc).__name__
            event = build_event(
                source=self.source,
                spec=self.spec,
                attribution=self.attribution.merged(self.scope),
                counts=None,
                model=None,
                response_id=None,
                latency_ms=self._elapsed_ms(),
                success=False,
                status=status or (_failure_status(exc) if exc is not None else "error"),
                details=details,
            )
        except Exception:
            log.error("llmledger could not record a failed %s call", self.spec.api, exc_info=True)
            return
        self.sink.submit(event)


class StreamRecorder(CallRecorder):
    """A streamed call, read by an ``SSEMeter`` as it passes; recorded once it ends.

    ``end`` is how it ended: ``complete`` (read to the end), ``closed`` (closed by the caller
    before the end), ``abandoned`` (dropped unclosed, or still open at interpreter exit) or
    ``error`` (cut by the network or the provider, or carrying an error event). With the
    provider's usage the event holds it; without, input and output are estimated offline and
    the event is ``estimated``.
    """

    __slots__ = ("meter",)

    def __init__(
        self,
        sink: Sink,
        spec: CallSpec,
        attribution: Attribution,
        meter: SSEMeter,
        *,
        source: str = "sdk",
        scope: Attribution = EMPTY,
    ) -> None:
        super().__init__(sink, spec, attribution, source=source, scope=scope)
        self.meter = meter

    def finish(
        self, end: str, error: BaseException | None = None, *, status: str | None = None
    ) -> None:
        if not self._claim():
            return
        latency = self._elapsed_ms()
        build = partial(self._event, end, error, status, latency, time())
        if end == "complete":
            # Read to the end: nothing adds to what the meter kept any more, so the ledger's
            # writer can read it (normalize, estimate, build the event) off the app's path.
            self.sink.defer(partial(self._checked, build))
            return
        event = self._checked(build)  # cut or closed early: read now, while it is known
        if event is not None:
            self.sink.submit(event)

    def _accumulated(self) -> StreamAccumulator:
        acc = self.meter.accumulator
        if acc is None:  # not one event whose API was known: nothing but an estimate
            spec = self.spec
            acc = stream_for(shape_of(spec.api), spec.provider)
        return acc

    def _event(
        self,
        end: str,
        error: BaseException | None,
        status: str | None,
        latency: float,
        ts: float,
    ) -> UsageEvent:
        acc = self._accumulated()
        if end == "complete" and acc.usage is not None:
            counts = acc.usage  # read to the end: the last usage the provider sent is final
        else:
            counts = acc.usage_or_estimate(
                input_tokens=self._input_estimate() if acc.usage is None else 0
            )
        details = self._details()
        details["stream"] = True
        details["stream_end"] = end
        first_at = self.meter.first_at
        if first_at is not None:
            details["first_chunk_ms"] = round((first_at - self.started) * 1000.0, 3)
        if error is not None:
            details["error"] = type(error).__name__
        if status is None:
            status = "ok" if end == "complete" else _failure_status(error) if error else end
        return build_event(
            source=self.source,
            spec=self.spec,
            attribution=self.attribution.merged(self.scope),
            counts=counts,
            model=acc.model,
            response_id=acc.response_id,
            latency_ms=latency,
            success=end != "error",
            status=status,
            details=details,
            ts=ts,
        )

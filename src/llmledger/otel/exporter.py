"""Export every recorded event to OpenTelemetry: a CLIENT span named
``{gen_ai.operation.name} {gen_ai.request.model}`` with the GenAI attributes (attributes.py),
ending at the event's time and starting ``latency_ms`` before, and two points of the
``gen_ai.client.token.usage`` histogram (input and output tokens).

Without providers given, it builds its own from the standard environment: OTLP over HTTP
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, … read by the OTLP exporters themselves), the service name
from ``OTEL_SERVICE_NAME`` (default ``llmledger``), spans in batches, metrics every
``OTEL_METRIC_EXPORT_INTERVAL`` ms.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from llmledger.events import UsageEvent
from llmledger.otel.attributes import (
    TOKEN_USAGE_BUCKETS,
    event_attributes,
    metric_attributes,
    span_name,
)

if TYPE_CHECKING:
    from llmledger.ledger import Ledger

__all__ = ["INSTALL_HINT", "OtelExporter", "attach", "exporter_from_environment"]

log = logging.getLogger("llmledger.otel")

INSTALL_HINT = "OpenTelemetry export needs its packages: pip install 'llmledger[otel]'"
SCOPE = "llmledger"


class OtelExporter:
    """Spans and the token histogram for events (``export``), on the given providers."""

    def __init__(
        self,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        *,
        owned: bool = False,
        background: bool = False,
    ) -> None:
        from llmledger import __version__

        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self._owned = owned  # built here: shut down here
        self.tracer = tracer_provider.get_tracer(SCOPE, __version__)
        meter = meter_provider.get_meter(SCOPE, __version__)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=list(map(float, TOKEN_USAGE_BUCKETS)),
        )
        # ``background``: spans are made on a thread of their own, so a write pays a queue
        # put (~1 us) instead of the span and histogram work (~60 us an event); a full queue
        # makes writers wait rather than lose telemetry.
        self._queue: queue.Queue[list[UsageEvent] | None] | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=64)  # batches; memory stays bounded
            self._thread = threading.Thread(target=self._drain, name="llmledger-otel", daemon=True)
            self._thread.start()

    def export(self, events: Sequence[UsageEvent]) -> None:
        """Spans and histogram points for ``events`` (queued, with ``background``)."""
        if self._queue is None:
            self._emit(events)
        else:
            self._queue.put(list(events))

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                self._emit(batch)
            except Exception:  # telemetry must never stop: log, go on
                log.exception("otel: could not export %d event(s)", len(batch or ()))
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued event is a span."""
        if self._queue is not None:
            self._queue.join()

    def _emit(self, events: Sequence[UsageEvent]) -> None:
        for event in events:
            end = int(event.ts.timestamp() * 1_000_000) * 1_000
            start = end - int((event.latency_ms or 0) * 1_000_000)
            attributes = event_attributes(event)
            span = self.tracer.start_span(
                span_name(event), kind=SpanKind.CLIENT, start_time=start, attributes=attributes
            )
            if not event.success:
                span.set_status(Status(StatusCode.ERROR, event.status or None))
            span.end(end_time=end)
            inputs = attributes["gen_ai.usage.input_tokens"]
            assert isinstance(inputs, int)
            self.token_usage.record(inputs, metric_attributes(event, "input"))
            self.token_usage.record(event.output_tokens, metric_attributes(event, "output"))

    def shutdown(self) -> None:
        """Send what is pending; stop the providers this exporter built."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join(30)
            self._queue = None
        for provider in (self.tracer_provider, self.meter_provider):
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                flush()
            if self._owned:
                stop = getattr(provider, "shutdown", None)
                if stop is not None:
                    stop()


def exporter_from_environment() -> OtelExporter:
    """OTLP/HTTP providers configured by the OTEL_* environment (see the module docstring)."""
    import os

    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", SCOPE)})
    tracer_provider = SdkTracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    meter_provider = SdkMeterProvider(
        resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
    )
    return OtelExporter(tracer_provider, meter_provider, owned=True, background=True)


def attach(ledger: Ledger, exporter: OtelExporter) -> Callable[[], None]:
    """Export every event ``ledger`` records from now on; returns the detach."""
    return ledger.observe(exporter.export)

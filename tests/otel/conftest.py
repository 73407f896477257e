"""A Ledger whose events go to the OpenTelemetry SDK's in-memory exporter and metric reader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmledger.ledger import Ledger
from llmledger.otel.exporter import OtelExporter, attach


class MemoryExporter(OtelExporter):
    """An exporter on the SDK's in-memory span exporter and metric reader."""

    def __init__(self, *, background: bool = False) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.metrics])
        super().__init__(tracer_provider, meter_provider, background=background)


@dataclass
class Exported:
    ledger: Ledger
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    exporter: OtelExporter


@pytest.fixture
def exported(tmp_path: Path) -> Iterator[Exported]:
    exporter = MemoryExporter()
    ledger = Ledger(tmp_path / "ledger.db")
    detach = attach(ledger, exporter)
    yield Exported(ledger, exporter.spans, exporter.metrics, exporter)
    detach()
    ledger.close()

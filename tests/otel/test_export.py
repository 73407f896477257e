"""Every recorded event becomes a span with the GenAI attributes and two points of the
``gen_ai.client.token.usage`` histogram, read back from the SDK's in-memory exporters."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.otel.exporter import attach
from tests.otel.conftest import Exported, MemoryExporter

TS = datetime(2026, 12, 7, 10, 15, 30, 250000, tzinfo=timezone.utc)
END_NS = int(TS.timestamp() * 1_000_000) * 1_000


def full_event() -> UsageEvent:
    return UsageEvent(
        id="call:resp_123",
        model="gpt-5-2025-08-07",
        ts=TS,
        source="proxy",
        provider="openai",
        input_tokens=1000,
        cache_read_tokens=200,
        cache_write_tokens=50,
        cache_write_1h_tokens=10,
        output_tokens=300,
        reasoning_tokens=120,
        cost_nanos=12_345_000,
        cost_status="reported",
        estimated=True,
        requests=1,
        user_id="alice",
        org_id="acme",
        account="openai-main",
        api_key_id="key_1",
        session_id="sess-9",
        project="billing",
        request_type="responses",
        tags=("beta", "eu"),
        latency_ms=250.0,
        success=False,
        status="429",
        details={"requested_model": "gpt-5", "service_tier": "flex"},
    )


def test_every_field_reaches_the_span(exported: Exported) -> None:
    exported.ledger.record(full_event())
    [span] = exported.spans.get_finished_spans()
    assert span.name == "chat gpt-5"
    assert span.kind == SpanKind.CLIENT
    assert (span.start_time, span.end_time) == (END_NS - 250_000_000, END_NS)
    assert span.status.status_code == StatusCode.ERROR and span.status.description == "429"
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-5",
        "gen_ai.response.model": "gpt-5-2025-08-07",
        "gen_ai.provider.name": "openai",
        "gen_ai.conversation.id": "sess-9",
        # The convention's input includes cache reads and writes: 1000 + 200 + 50 + 10.
        "gen_ai.usage.input_tokens": 1260,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.usage.cache_creation.input_tokens": 60,
        "gen_ai.usage.reasoning.output_tokens": 120,
        "error.type": "429",
        "llmledger.event.id": "call:resp_123",
        "llmledger.source": "proxy",
        "llmledger.usage.fresh_input_tokens": 1000,
        "llmledger.usage.cache_write_5m_tokens": 50,
        "llmledger.usage.cache_write_1h_tokens": 10,
        "llmledger.usage.total_tokens": 1560,
        "llmledger.cost_usd": 0.012345,
        "llmledger.cost_nanos": 12_345_000,
        "llmledger.cost_status": "reported",
        "llmledger.estimated": True,
        "llmledger.requests": 1,
        "llmledger.success": False,
        "llmledger.user_id": "alice",
        "llmledger.org_id": "acme",
        "llmledger.account": "openai-main",
        "llmledger.api_key_id": "key_1",
        "llmledger.session_id": "sess-9",
        "llmledger.project": "billing",
        "llmledger.request_type": "responses",
        "llmledger.status": "429",
        "llmledger.tags": ("beta", "eu"),
        "llmledger.latency_ms": 250.0,
        "llmledger.details": json.dumps(
            {"requested_model": "gpt-5", "service_tier": "flex"}, sort_keys=True
        ),
    }


def test_the_token_usage_histogram(exported: Exported) -> None:
    exported.ledger.record(full_event())
    exported.ledger.record(
        model="text-embedding-3-small",
        provider="openai",
        input_tokens=64,
        request_type="embeddings",
    )
    data = exported.metrics.get_metrics_data()
    assert data is not None
    [metric] = [
        m
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for m in scope.metrics
        if m.name == "gen_ai.client.token.usage"
    ]
    assert metric.unit == "{token}"
    points = {
        (p.attributes["gen_ai.token.type"], p.attributes["gen_ai.response.model"]): (
            p.count,
            p.sum,
            dict(p.attributes),
        )
        for p in metric.data.data_points  # type: ignore[union-attr]
    }
    assert points[("input", "gpt-5-2025-08-07")] == (
        1,
        1260,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-5",
            "gen_ai.response.model": "gpt-5-2025-08-07",
            "gen_ai.token.type": "input",
            "gen_ai.provider.name": "openai",
        },
    )
    assert points[("output", "gpt-5-2025-08-07")][:2] == (1, 300)
    assert points[("input", "text-embedding-3-small")][:2] == (1, 64)
    assert points[("output", "text-embedding-3-small")][:2] == (1, 0)
    embedding = [s for s in exported.spans.get_finished_spans() if "embedding" in s.name]
    assert [s.name for s in embedding] == ["embeddings text-embedding-3-small"]
    boundaries = metric.data.data_points[0].explicit_bounds  # type: ignore[union-attr]
    assert boundaries[:4] == (1.0, 4.0, 16.0, 64.0) and boundaries[-1] == 67108864.0


def test_each_write_path_exports_and_a_stored_copy_does_not_again(exported: Exported) -> None:
    ledger = exported.ledger
    ledger.record(model="m", input_tokens=1, id="a")
    ledger.record(model="m", input_tokens=1, id="a")  # already stored: not a new event
    ledger.record_many(UsageEvent(model="m", input_tokens=n, id=f"batch-{n}") for n in range(1, 4))
    ledger.submit(UsageEvent(model="m", input_tokens=9, id="queued")).result(10)
    ids = [s.attributes["llmledger.event.id"] for s in exported.spans.get_finished_spans()]
    assert ids == ["a", "batch-1", "batch-2", "batch-3", "queued"]


def test_a_failing_exporter_never_fails_the_write(
    exported: Exported, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(events: object) -> None:
        raise RuntimeError("collector exploded")

    stop = exported.ledger.observe(broken)
    event = exported.ledger.record(model="m", input_tokens=5, id="kept")
    stop()
    assert exported.ledger.get("kept") == event
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"ledger observer {broken!r} failed"
    ]
    ids = [s.attributes["llmledger.event.id"] for s in exported.spans.get_finished_spans()]
    assert ids == ["kept"]  # the other observer (the exporter) still ran


def test_in_the_background_writes_only_queue_and_shutdown_drains(tmp_path: Path) -> None:
    exporter = MemoryExporter(background=True)
    ledger = Ledger(tmp_path / "bg.db")
    attach(ledger, exporter)
    threads: list[str] = []
    original = exporter._emit

    def emit(events: Sequence[UsageEvent]) -> None:
        threads.append(threading.current_thread().name)
        original(events)

    exporter._emit = emit  # type: ignore[method-assign]
    ledger.record_many(UsageEvent(model="m", input_tokens=n, id=f"bg-{n}") for n in range(50))
    ledger.record(model="m", input_tokens=7, id="bg-last")
    exporter.shutdown()  # drains the queue first
    ledger.close()
    ids = sorted(s.attributes["llmledger.event.id"] for s in exporter.spans.get_finished_spans())
    assert ids == sorted([*(f"bg-{n}" for n in range(50)), "bg-last"])
    assert set(threads) == {"llmledger-otel"}  # never on the writing thread

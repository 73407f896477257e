"""``LLMLEDGER_OTEL=1``: a process's events go over OTLP/HTTP to the endpoint of the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``, here a collector stand-in on 127.0.0.1 that decodes the
protobuf requests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otel extra is missing")

from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.otel.conftest import MemoryExporter


class Collector:
    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.url = ""

    async def _traces(self, request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        self.traces.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def _metrics(self, request: web.Request) -> web.Response:
        message = ExportMetricsServiceRequest()
        message.ParseFromString(await request.read())
        self.metrics.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        app.router.add_post("/v1/metrics", self._metrics)
        return app


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(found.app(), access_log=None)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        found.url = f"http://127.0.0.1:{port}"
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield found
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


SCRIPT = """
import llmledger
ledger = llmledger.Ledger(r"{db}")
ledger.record(model="claude-sonnet-4-5", provider="anthropic", input_tokens=10,
              cache_read_tokens=90, output_tokens=5, user_id="u1", id="evt-1")
ledger.close()
"""


def test_events_reach_an_otlp_endpoint(collector: Collector, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LLMLEDGER_OTEL": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_SERVICE_NAME": "billing-api",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(db=tmp_path / "ledger.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    spans = [
        (resource, span)
        for request in collector.traces
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert len(spans) == 1
    resource, span = spans[0]
    service = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert service["service.name"] == "billing-api"
    attributes = {a.key: a.value for a in span.attributes}
    assert span.name == "chat claude-sonnet-4-5"
    assert attributes["gen_ai.provider.name"].string_value == "anthropic"
    assert attributes["gen_ai.usage.input_tokens"].int_value == 100
    assert attributes["gen_ai.usage.cache_read.input_tokens"].int_value == 90
    assert attributes["llmledger.event.id"].string_value == "evt-1"
    assert attributes["llmledger.user_id"].string_value == "u1"
    names = {
        metric.name
        for request in collector.metrics
        for resource in request.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert names == {"gen_ai.client.token.usage"}


def test_a_bad_switch_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "LLMLEDGER_OTEL": "maybe"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmledger",
            "--db",
            str(tmp_path / "l.db"),
            "record",
            "--model",
            "m",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (
        1,
        "llmledger: error: LLMLEDGER_OTEL: expected 1 or 0, got 'maybe'\n",
    )


def test_without_the_extra_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmledger.errors import ConfigError
    from llmledger.ledger import Ledger
    from llmledger.otel import auto

    monkeypatch.setattr(auto, "_shared", None)
    monkeypatch.setitem(sys.modules, "llmledger.otel.exporter", None)  # as if not installed
    with pytest.raises(ConfigError) as raised:
        Ledger(tmp_path / "l.db", env={"LLMLEDGER_OTEL": "1"})
    assert str(raised.value) == (
        "OpenTelemetry export needs its packages: pip install 'llmledger[otel]'"
    )


def test_one_exporter_serves_every_ledger_of_a_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmledger.ledger import Ledger
    from llmledger.otel import auto

    made: list[MemoryExporter] = []

    def fake_environment_exporter() -> MemoryExporter:
        exporter = MemoryExporter()
        made.append(exporter)
        return exporter

    monkeypatch.setattr(auto, "_shared", None)
    monkeypatch.setattr(
        "llmledger.otel.exporter.exporter_from_environment", fake_environment_exporter
    )
    first = Ledger(tmp_path / "a.db", env={"LLMLEDGER_OTEL": "1"})
    second = Ledger(tmp_path / "b.db", env={"LLMLEDGER_OTEL": "true"})
    off = Ledger(tmp_path / "c.db", env={"LLMLEDGER_OTEL": "0"})
    for ledger in (first, second, off):
        ledger.record(model="m", input_tokens=1, id=f"in-{ledger.url}")
        ledger.close()
    [exporter] = made
    spans = exporter.spans.get_finished_spans()
    assert sorted(s.attributes["llmledger.event.id"] for s in spans) == [
        f"in-{tmp_path / 'a.db'}",
        f"in-{tmp_path / 'b.db'}",
    ]

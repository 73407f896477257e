"""``llmledger import otel``: OTLP/JSON spans and log records into the ledger, once each; the
convention's input (cache included) mapped to fresh input; a round trip through the exporter
and an OTLP/JSON file gives back the same ledger."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from llmledger.cli.main import main
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.otel.otlp_json import spans_request
from tests.otel.conftest import Exported

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def varied_events() -> list[UsageEvent]:
    day = timedelta(days=1)
    return [
        UsageEvent(
            model="gpt-4o-mini",
            provider="openai",
            ts=NOW - 2 * day,
            input_tokens=1200,
            cache_read_tokens=3000,
            output_tokens=400,
            reasoning_tokens=0,
            user_id="alice",
            session_id="s1",
            latency_ms=812.5,
        ),
        UsageEvent(
            model="claude-sonnet-4-5",
            provider="anthropic",
            ts=NOW - day,
            input_tokens=15,
            cache_read_tokens=90_000,
            cache_write_tokens=2_000,
            cache_write_1h_tokens=500,
            output_tokens=1_500,
            reasoning_tokens=700,
            org_id="acme",
            tags=("agent", "eu"),
            details={"service_tier": "standard"},
        ),
        UsageEvent(model="in-house-llm", ts=NOW, input_tokens=50, output_tokens=5, source="sdk"),
        UsageEvent(
            model="qwen-plus",
            provider="dashscope",
            ts=NOW,
            input_tokens=152,
            output_tokens=487,
            cost_nanos=123_000,
            cost_status="reported",
            request_type="diagram_generation",
            estimated=True,
        ),
        UsageEvent(
            model="gpt-4o",
            ts=NOW,
            input_tokens=10,
            output_tokens=0,
            success=False,
            status="503",
            account="openai-b",
        ),
    ]


def test_export_then_import_gives_the_same_ledger(exported: Exported, tmp_path: Path) -> None:
    exported.ledger.record_many(varied_events())
    spans = exported.spans.get_finished_spans()
    file = tmp_path / "traces.json"
    file.write_text(json.dumps(spans_request(spans)))
    copy = tmp_path / "copy.db"
    assert main(["--db", str(copy), "import", "otel", str(file)]) == 0
    with Ledger(copy) as imported:
        original = sorted(exported.ledger.events(), key=lambda e: e.id)
        assert sorted(imported.events(), key=lambda e: e.id) == original
        assert imported.summary(days=5, tz="UTC") == exported.ledger.summary(days=5, tz="UTC")


def _kv(key: str, value: object) -> dict[str, object]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _span(span_id: str, attributes: dict[str, object], error: bool = False) -> dict[str, object]:
    end = int(NOW.timestamp()) * 1_000_000_000
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "name": "chat claude-sonnet-4-5",
        "kind": 3,
        "startTimeUnixNano": str(end - 1_500_000_000),
        "endTimeUnixNano": str(end),
        "attributes": [_kv(k, v) for k, v in attributes.items()],
        "status": {"code": 2 if error else 0},
    }


FOREIGN_USAGE = {
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.usage.input_tokens": 1000,  # includes the 800 read and 100 written
    "gen_ai.usage.cache_read.input_tokens": 800,
    "gen_ai.usage.cache_creation.input_tokens": 100,
    "gen_ai.usage.output_tokens": 250,
    "gen_ai.conversation.id": "copilot-session-7",
}


def foreign_file(tmp_path: Path) -> Path:
    traces = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_kv("service.name", "copilot-cli")]},
                "scopeSpans": [
                    {
                        "scope": {"name": "github.copilot"},
                        "spans": [
                            _span("eee19b7ec3c1b174", FOREIGN_USAGE),
                            _span("aaa19b7ec3c1b175", {"http.method": "GET"}),  # no usage
                        ],
                    }
                ],
            }
        ]
    }
    logs = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {  # the same call's log record: the same id as its span
                                "timeUnixNano": str(int(NOW.timestamp()) * 1_000_000_000),
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "attributes": [_kv(k, v) for k, v in FOREIGN_USAGE.items()],
                            },
                            {  # a log record of its own
                                "timeUnixNano": str(int(NOW.timestamp()) * 1_000_000_000),
                                "attributes": [
                                    _kv("gen_ai.response.model", "gpt-4.1"),
                                    _kv("gen_ai.usage.input_tokens", 300),
                                    _kv("gen_ai.usage.output_tokens", 20),
                                ],
                            },
                        ]
                    }
                ]
            }
        ]
    }
    path = tmp_path / "copilot-otel.jsonl"
    path.write_text(json.dumps(traces) + "\n{not json\n" + json.dumps(logs) + "\n")
    return path


def test_foreign_spans_and_logs_are_imported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = foreign_file(tmp_path)
    db = tmp_path / "ledger.db"
    assert main(["--db", str(db), "import", "otel", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: 2 events, 2 new (skipped: 1 record without token usage; 1 line not JSON)\n"
    )
    assert main(["--db", str(db), "import", "otel", str(path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["files"][0]["written"] == 0 and again["files"][0]["events"] == 2
    with Ledger(db) as ledger:
        events = {e.model: e for e in ledger.events()}
    claude = events["claude-sonnet-4-5"]
    assert claude.id == "otel:5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174"
    assert (
        claude.input_tokens,
        claude.cache_read_tokens,
        claude.cache_write_tokens,
        claude.output_tokens,
    ) == (100, 800, 100, 250)
    assert claude.total_tokens == 1250
    assert (claude.source, claude.provider, claude.session_id) == (
        "otel",
        "anthropic",
        "copilot-session-7",
    )
    assert claude.latency_ms == 1500.0
    assert claude.cost_status == "computed"  # priced at ingest from the price book
    other = events["gpt-4.1"]
    assert (other.input_tokens, other.output_tokens) == (300, 20)
    assert other.id.startswith("otel-log:")


def test_console_exporter_spans(tmp_path: Path) -> None:
    path = tmp_path / "console.json"
    path.write_text(
        json.dumps(
            {
                "name": "chat gpt-4o",
                "context": {"trace_id": "0x" + "1" * 32, "span_id": "0x" + "2" * 16},
                "kind": "SpanKind.CLIENT",
                "start_time": "2026-12-01T10:00:00.000000Z",
                "end_time": "2026-12-01T10:00:02.000000Z",
                "status": {"status_code": "ERROR"},
                "attributes": {
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 70,
                    "gen_ai.usage.output_tokens": 7,
                    "error.type": "timeout",
                },
            }
        )
    )
    db = tmp_path / "ledger.db"
    assert main(["--db", str(db), "import", "otel", str(path)]) == 0
    with Ledger(db) as ledger:
        [event] = list(ledger.events())
    assert (event.id, event.ts, event.latency_ms, event.success, event.status) == (
        f"otel:{'1' * 32}:{'2' * 16}",
        datetime(2026, 12, 1, 10, 0, 2, tzinfo=timezone.utc),
        2000.0,
        False,
        "timeout",
    )


def test_an_unreadable_file_is_named_and_the_others_are_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = foreign_file(tmp_path)
    missing = tmp_path / "nope.json"
    db = tmp_path / "ledger.db"
    assert main(["--db", str(db), "import", "otel", str(missing), str(good)]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"llmledger: cannot read {missing}: No such file or directory\n"
        "llmledger: error: 1 of 2 file(s) could not be read\n"
    )
    assert captured.out.startswith(f"{good}: 2 events, 2 new")
    with Ledger(db) as ledger:
        assert ledger.count() == 2


def test_flat_javascript_style_span_lines(tmp_path: Path) -> None:
    """Lines as a Node SDK file exporter writes spans (Copilot CLI's
    COPILOT_OTEL_FILE_EXPORTER_PATH export is JSON lines with map attributes)."""
    chat = {
        "traceId": "a" * 32,
        "spanId": "b" * 16,
        "name": "chat claude-sonnet-4.5",
        "startTime": [1796638498, 250000000],
        "endTime": [1796638500, 0],
        "status": {"code": 0},
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4.5",
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.cache_read.input_tokens": 4000,
            "gen_ai.usage.cache_write.input_tokens": 600,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.conversation.id": "c-1",
        },
    }
    tool = {**chat, "spanId": "c" * 16, "name": "execute_tool view", "attributes": {"x": 1}}
    path = tmp_path / "copilot-otel.jsonl"
    path.write_text(json.dumps(chat) + "\n" + json.dumps(tool) + "\n")
    db = tmp_path / "ledger.db"
    assert main(["--db", str(db), "import", "otel", str(path)]) == 0
    with Ledger(db) as ledger:
        [event] = list(ledger.events())
    assert (
        event.id,
        event.ts,
        event.latency_ms,
        event.input_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
        event.output_tokens,
        event.session_id,
    ) == (
        f"otel:{'a' * 32}:{'b' * 16}",
        datetime(2026, 12, 7, 10, 15, tzinfo=timezone.utc),
        1750.0,
        400,
        4000,
        600,
        300,
        "c-1",
    )


def test_an_agent_span_totalling_its_model_calls_counts_only_without_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GenAI agents (Copilot CLI's ``invoke_agent``) may put the sum of their chat spans on the
    agent span: with the chat spans in the trace it would count everything twice."""

    def line(trace: str, span: str, operation: str, tokens_in: int, tokens_out: int) -> str:
        attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": tokens_in,
            "gen_ai.usage.output_tokens": tokens_out,
        }
        end = [1796638500, 0]
        return json.dumps(
            {
                "traceId": trace,
                "spanId": span,
                "name": operation,
                "startTime": end,
                "endTime": end,
                "attributes": attributes,
            }
        )

    path = tmp_path / "agent.jsonl"
    path.write_text(
        "\n".join(
            [
                line("a" * 32, "1" * 16, "chat", 100, 10),
                line("a" * 32, "2" * 16, "chat", 50, 5),
                line("a" * 32, "3" * 16, "invoke_agent", 150, 15),  # the sum: not counted
                line("b" * 32, "4" * 16, "invoke_agent", 70, 7),  # alone in its trace: counted
            ]
        )
    )
    db = tmp_path / "ledger.db"
    assert main(["--db", str(db), "import", "otel", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: 3 events, 3 new (skipped: 1 agent span totalling its calls)\n"
    )
    with Ledger(db) as ledger:
        counted = sorted((e.id[-16:], e.input_tokens, e.output_tokens) for e in ledger.events())
    assert counted == [("1" * 16, 100, 10), ("2" * 16, 50, 5), ("4" * 16, 70, 7)]

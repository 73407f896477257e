"""OTLP/JSON records into ledger events (``llmledger import otel``).

A span or log record counts when it carries GenAI token usage (``gen_ai.usage.input_tokens``
or ``output_tokens``; the older ``prompt_tokens`` / ``completion_tokens`` too). The
convention's input INCLUDES cached tokens, so fresh input is input minus cache reads minus
cache writes (never below zero). The id is ``llmledger.event.id`` when the span came from
llmledger, otherwise ``otel:<trace id>:<span id>``, so a file imported twice, or a span and its
log record, count once. An agent span (``invoke_agent``) whose usage totals the model calls
under it (Copilot CLI's does, per its OpenTelemetry reference: "total input tokens (all
turns)") counts only when its trace holds no model call with usage of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from llmledger.events import UsageEvent, usd_to_nanos
from llmledger.otel.otlp_json import OtlpRecord, parse_otlp_text

__all__ = ["FileImport", "event_from_record", "import_file", "is_agent_rollup"]


class Recorder(Protocol):
    """What importing needs of a ``Ledger`` (a protocol, so agent-log sources may use this
    module without depending on the ledger)."""

    def record_many(self, events: Sequence[UsageEvent]) -> int: ...


_ATTRIBUTION = ("user_id", "org_id", "account", "api_key_id", "project", "request_type")


def _int(attributes: Mapping[str, object], *names: str) -> int | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and value >= 0:
            return int(value)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def _text(attributes: Mapping[str, object], *names: str) -> str | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _record_id(record: OtlpRecord) -> str:
    if record.span_id:
        return f"otel:{record.trace_id}:{record.span_id}"
    digest = hashlib.sha256(
        json.dumps(
            [record.end_ns, record.name, record.attributes], sort_keys=True, default=str
        ).encode()
    ).hexdigest()[:32]
    return f"otel-log:{digest}"


def is_agent_rollup(record: OtlpRecord) -> bool:
    """An agent invocation span, whose token counts (if any) sum its model calls."""
    operation = record.attributes.get("gen_ai.operation.name")
    return operation == "invoke_agent" or (operation is None and record.name == "invoke_agent")


def event_from_record(record: OtlpRecord) -> UsageEvent | None:
    """The event a span or log record reports; None when it carries no token usage."""
    a = record.attributes
    total_input = _int(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    output = _int(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    if total_input is None and output is None:
        return None
    cache_read = _int(a, "gen_ai.usage.cache_read.input_tokens") or 0
    cache_writes = (
        _int(a, "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens")
        or 0
    )
    fresh = _int(a, "llmledger.usage.fresh_input_tokens")
    if fresh is None:
        fresh = max(0, (total_input or 0) - cache_read - cache_writes)
    write_1h = min(_int(a, "llmledger.usage.cache_write_1h_tokens") or 0, cache_writes)
    output = output or 0
    reasoning = min(_int(a, "gen_ai.usage.reasoning.output_tokens") or 0, output)
    model = _text(a, "gen_ai.response.model", "gen_ai.request.model") or "unknown"
    ts_ns = record.end_ns or record.start_ns
    event = UsageEvent(
        model=model,
        ts=datetime.fromtimestamp(ts_ns / 1e9, timezone.utc)
        if ts_ns
        else datetime.now(timezone.utc),
        id=_text(a, "llmledger.event.id") or _record_id(record),
        source=_text(a, "llmledger.source") or "otel",
        provider=_text(a, "gen_ai.provider.name", "gen_ai.system"),
        input_tokens=fresh,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_writes - write_1h,
        cache_write_1h_tokens=write_1h,
        output_tokens=output,
        reasoning_tokens=reasoning,
        estimated=a.get("llmledger.estimated") is True,
        requests=_int(a, "llmledger.requests") or 1,
        session_id=_text(a, "llmledger.session_id", "gen_ai.conversation.id", "session.id"),
        success=not record.error and a.get("llmledger.success") is not False,
        status=_text(a, "llmledger.status", "error.type"),
    )
    for name in _ATTRIBUTION:
        setattr(event, name, _text(a, f"llmledger.{name}"))
    event.user_id = event.user_id or _text(a, "user.id")
    tags = a.get("llmledger.tags")
    if isinstance(tags, list):
        event.tags = tuple(str(tag) for tag in tags)
    latency = a.get("llmledger.latency_ms")
    if isinstance(latency, (int, float)) and not isinstance(latency, bool):
        event.latency_ms = float(latency)
    elif record.kind == "span" and record.end_ns > record.start_ns > 0:
        event.latency_ms = (record.end_ns - record.start_ns) / 1e6
    details = a.get("llmledger.details")
    if isinstance(details, str):
        try:
            parsed = json.loads(details)
        except json.JSONDecodeError:
            parsed = None
        event.details = parsed if isinstance(parsed, dict) else None
    _cost(event, a)
    return event


def _cost(event: UsageEvent, a: Mapping[str, object]) -> None:
    """A cost the span reports is kept; otherwise the ledger prices the event at ingest."""
    nanos = _int(a, "llmledger.cost_nanos")
    if a.get("llmledger.cost_status") == "reported" and nanos is not None:
        event.cost_nanos, event.cost_status = nanos, "reported"
        return
    usd = a.get("gen_ai.usage.cost")  # OpenLIT's attribute
    foreign = a.get("llmledger.cost_status") is None
    if foreign and isinstance(usd, (int, float)) and not isinstance(usd, bool) and usd >= 0:
        event.cost_nanos, event.cost_status = usd_to_nanos(usd), "reported"


@dataclass(frozen=True)
class FileImport:
    path: str
    events: int  # records with token usage
    written: int  # new in the ledger (or more tokens than the stored copy)
    skipped: int  # records without token usage
    bad_lines: int
    invalid: int  # records whose usage could not be recorded (e.g. reasoning > output)
    agent_totals: int = 0  # agent spans repeating the sum of their trace's model calls
    in_agent_logs: int = 0  # Copilot CLI calls its session-state counts (the scan's copilot-cli)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "events": self.events,
            "written": self.written,
            "skipped": self.skipped,
            "badLines": self.bad_lines,
            "invalid": self.invalid,
            "agentTotals": self.agent_totals,
            "inAgentLogs": self.in_agent_logs,
        }


@dataclass
class Converted:
    """What the records of a file come to."""

    events: list[UsageEvent]
    skipped: int = 0  # without token usage
    invalid: int = 0
    agent_totals: int = 0
    in_agent_logs: int = 0


LeftToAgentLogs = Callable[[OtlpRecord, UsageEvent], bool]


def events_of(
    records: Sequence[OtlpRecord], left_to_agent_logs: LeftToAgentLogs | None = None
) -> Converted:
    """The valid events of ``records``, and what was left out: records without usage, agent
    totals, invalid ones, and those ``left_to_agent_logs`` says an agent-log source counts."""
    from llmledger.errors import InvalidEventError

    events: dict[str, UsageEvent] = {}
    result = Converted([])
    converted = [(record, event_from_record(record)) for record in records]
    # Traces whose model calls carry usage: an agent span there only repeats their sum.
    called = {r.trace_id for r, e in converted if e is not None and not is_agent_rollup(r)}
    for record, event in converted:
        if event is None:
            result.skipped += 1
            continue
        if is_agent_rollup(record) and bool(record.trace_id) and record.trace_id in called:
            result.agent_totals += 1
            continue
        if left_to_agent_logs is not None and left_to_agent_logs(record, event):
            result.in_agent_logs += 1
            continue
        try:
            event.validate()
        except InvalidEventError:
            result.invalid += 1
            continue
        known = events.get(event.id)  # a span and its log record: the fuller copy wins
        if known is None or event.total_tokens > known.total_tokens:
            events[event.id] = event
    result.events = list(events.values())
    return result


def import_file(ledger: Recorder, path: Path) -> FileImport:
    """Read ``path`` and record its events in one transaction; OSError / UnicodeDecodeError
    for a file that cannot be read. Copilot CLI's spans of a session its session-state still
    holds are left out: the scan counts that session from there (``copilot-cli``)."""
    # Imported here: that agent-log source reads its files with this module.
    from llmledger.sources.copilot_otel import left_to_session_state

    report = parse_otlp_text(path.read_text(encoding="utf-8"))
    found = events_of(report.records, left_to_session_state)
    written = ledger.record_many(found.events) if found.events else 0
    return FileImport(
        str(path),
        len(found.events),
        written,
        found.skipped,
        report.bad_lines,
        found.invalid,
        found.agent_totals,
        found.in_agent_logs,
    )

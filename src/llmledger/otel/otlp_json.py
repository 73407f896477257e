"""OTLP/JSON, read and written without the SDK: the records of a file (spans and log records)
with their attributes as plain values, and spans written as an OTLP/JSON trace request.

Read: one ``ExportTraceServiceRequest`` / ``ExportLogsServiceRequest`` per file or per line
(``resourceSpans`` / ``resourceLogs``, as the Collector's file exporter writes), and flat
span or log objects with ``attributes`` as a map, as SDK console and file exporters write them
(Python's ``context.trace_id`` and ISO times, JavaScript's ``traceId`` / ``spanContext`` and
``[seconds, nanoseconds]`` times, Unix nanoseconds). Ids are hex; a line that is not JSON is
skipped and counted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "OtlpRecord",
    "ParseReport",
    "any_value",
    "parse_otlp_text",
    "records_of",
    "spans_request",
]

Value = str | bool | int | float | list[Any] | dict[str, Any] | None


@dataclass(frozen=True)
class OtlpRecord:
    """A span or a log record, reduced to what an event needs."""

    kind: str  # "span" or "log"
    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int  # a log record's time
    attributes: Mapping[str, Value]
    error: bool = False
    resource: Mapping[str, Value] = field(default_factory=dict)


@dataclass
class ParseReport:
    records: list[OtlpRecord] = field(default_factory=list)
    bad_lines: int = 0


def any_value(value: Mapping[str, Any]) -> Value:
    """An OTLP/JSON ``AnyValue`` as a Python value."""
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])  # int64 is a string in proto3 JSON
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"]).hex()
    return None


def _attributes(items: Iterable[Mapping[str, Any]]) -> dict[str, Value]:
    return {str(item["key"]): any_value(item.get("value") or {}) for item in items}


def _hex_id(value: object) -> str:
    text = str(value or "")
    return text[2:] if text.startswith("0x") else text


def _ns(value: object) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, str) and not value.isdigit():  # the console exporter's ISO time
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return int(moment.timestamp() * 1_000_000) * 1_000
    return int(str(value))


def _from_request(document: Mapping[str, Any]) -> Iterator[OtlpRecord]:
    for resource_spans in document.get("resourceSpans", []):
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes", []))
        for scope in resource_spans.get("scopeSpans", []):
            for span in scope.get("spans", []):
                status = span.get("status") or {}
                code = status.get("code")
                yield OtlpRecord(
                    kind="span",
                    trace_id=_hex_id(span.get("traceId")),
                    span_id=_hex_id(span.get("spanId")),
                    name=str(span.get("name", "")),
                    start_ns=_ns(span.get("startTimeUnixNano")),
                    end_ns=_ns(span.get("endTimeUnixNano")),
                    attributes=_attributes(span.get("attributes", [])),
                    error=code in (2, "STATUS_CODE_ERROR"),
                    resource=resource,
                )
    for resource_logs in document.get("resourceLogs", []):
        resource = _attributes((resource_logs.get("resource") or {}).get("attributes", []))
        for scope in resource_logs.get("scopeLogs", []):
            for record in scope.get("logRecords", []):
                moment = _ns(record.get("timeUnixNano")) or _ns(record.get("observedTimeUnixNano"))
                yield OtlpRecord(
                    kind="log",
                    trace_id=_hex_id(record.get("traceId")),
                    span_id=_hex_id(record.get("spanId")),
                    name=str(record.get("eventName") or ""),
                    start_ns=moment,
                    end_ns=moment,
                    attributes=_attributes(record.get("attributes", [])),
                    resource=resource,
                )


def _first(document: Mapping[str, Any], *paths: str) -> object:
    """The first value present at one of the dotted ``paths``."""
    for dotted in paths:
        value: object = document
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value not in (None, ""):
            return value
    return None


def _flat_ns(value: object) -> int:
    """A flat record's time: [seconds, nanoseconds], Unix ns / ms / s, or an ISO string."""
    if isinstance(value, list) and len(value) == 2:
        return int(value[0]) * 1_000_000_000 + int(value[1])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        scale = 1 if number > 1e17 else 1_000_000 if number > 1e11 else 1_000_000_000
        return int(number * scale)
    return _ns(value)


_TRACE = ("traceId", "trace_id", "context.trace_id", "spanContext.traceId", "span_context.trace_id")
_SPAN = ("spanId", "span_id", "context.span_id", "spanContext.spanId", "span_context.span_id")
_START = ("startTimeUnixNano", "start_time", "startTime")
_END = (
    "endTimeUnixNano",
    "end_time",
    "endTime",
    "timeUnixNano",
    "time_unix_nano",
    "timestamp",
    "time",
    "observedTimestamp",
    "observed_timestamp",
)


def _from_flat(record: Mapping[str, Any]) -> OtlpRecord:
    status = record.get("status")
    code = status.get("code", status.get("status_code")) if isinstance(status, Mapping) else None
    end = _flat_ns(_first(record, *_END))
    start = _flat_ns(_first(record, *_START)) or end
    span_id = _hex_id(_first(record, *_SPAN))
    is_span = bool(span_id) and _first(record, *_START) is not None
    resource = _first(record, "resource.attributes")  # JavaScript SDK lines carry a map
    return OtlpRecord(
        kind="span" if is_span else "log",
        trace_id=_hex_id(_first(record, *_TRACE)),
        span_id=span_id,
        name=str(record.get("name") or ""),
        start_ns=start,
        end_ns=end,
        attributes={str(k): v for k, v in record["attributes"].items()},
        error=code in (2, "ERROR", "STATUS_CODE_ERROR"),
        resource=dict(resource) if isinstance(resource, Mapping) else {},
    )


def _records(document: object) -> Iterator[OtlpRecord]:
    if isinstance(document, list):
        for item in document:
            yield from _records(item)
    elif isinstance(document, Mapping):
        if "resourceSpans" in document or "resourceLogs" in document:
            yield from _from_request(document)
        elif isinstance(document.get("attributes"), Mapping):
            yield _from_flat(document)


def records_of(document: object) -> list[OtlpRecord]:
    """The records of one decoded JSON document (a request, a flat record, or a list of
    them); other documents (e.g. Copilot CLI's ``"type": "metric"`` lines) hold none."""
    return list(_records(document))


def parse_otlp_text(text: str) -> ParseReport:
    """The records of a file's text: one JSON document, or one per line."""
    report = ParseReport()
    try:
        report.records.extend(_records(json.loads(text)))
        return report
    except json.JSONDecodeError:
        pass
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            report.bad_lines += 1
            continue
        report.records.extend(_records(document))
    return report


# -- writing -----------------------------------------------------------------------------------


def _any(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_any(v) for v in value]}}
    return {"stringValue": str(value)}


def _key_values(attributes: Mapping[str, object]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _any(value)} for key, value in attributes.items()]


def spans_request(spans: Sequence[Any]) -> dict[str, Any]:
    """SDK ``ReadableSpan``s as one OTLP/JSON ``ExportTraceServiceRequest``."""
    by_resource: dict[int, tuple[Any, list[Any]]] = {}
    for span in spans:
        by_resource.setdefault(id(span.resource), (span.resource, []))[1].append(span)
    resource_spans = []
    for resource, members in by_resource.values():
        scoped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for span in members:
            scope = span.instrumentation_scope
            key = (scope.name if scope else "", (scope.version or "") if scope else "")
            context = span.context
            scoped.setdefault(key, []).append(
                {
                    "traceId": f"{context.trace_id:032x}",
                    "spanId": f"{context.span_id:016x}",
                    "name": span.name,
                    "kind": int(span.kind.value) + 1,  # OTLP's SpanKind counts from UNSPECIFIED
                    "startTimeUnixNano": str(span.start_time),
                    "endTimeUnixNano": str(span.end_time),
                    "attributes": _key_values(dict(span.attributes or {})),
                    "status": {"code": int(span.status.status_code.value)},
                }
            )
        resource_spans.append(
            {
                "resource": {"attributes": _key_values(dict(resource.attributes))},
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": items}
                    for (name, version), items in scoped.items()
                ],
            }
        )
    return {"resourceSpans": resource_spans}

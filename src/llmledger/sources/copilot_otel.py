"""GitHub Copilot CLI's OpenTelemetry file export: one JSON object per line, written where
``COPILOT_OTEL_FILE_EXPORTER_PATH`` points (Copilot has no default path), and by convention
(tokscale's, ours) any ``*.jsonl`` under ``${COPILOT_HOME:-~/.copilot}/otel/``.

Verified against real exporter lines of Copilot CLI 1.0.78-2, 1.0.84 and 1.0.86 quoted in
public repositories, and GitHub's "OpenTelemetry monitoring" reference: a line is
``{"type": "span", "traceId", "spanId", "parentSpanId", "name", "kind", "startTime": [s, ns],
"endTime": [s, ns], "attributes": {...}, "status", "events", "resource",
"instrumentationScope"}`` or a ``"type": "metric"`` line (no top-level attributes). Each model
call is a ``chat`` span with ``gen_ai.usage.input_tokens`` (cache reads and writes included),
``output_tokens``, ``cache_read.input_tokens``, ``cache_creation.input_tokens`` (1.0.78) or
``cache_write.input_tokens`` (1.0.84+), ``reasoning.output_tokens``; ``gen_ai.conversation.id``
is the session id. The ``invoke_agent`` span totals its chat spans, so only chat spans count.

Lines are decoded by the OTLP/JSON reader of ``llmledger import otel`` (``otel.otlp_json``) and
mapped by its ``event_from_record``: ids are ``otel:<trace id>:<span id>``, the same as
importing the file, so the scan and the import never count a span twice. Copilot also keeps
each session's totals in ``session-state`` (the ``copilot-cli`` source): a span whose session
has a session-state entry is left to that source, so a session is never counted twice
(``llmledger import otel`` leaves such spans out too, ``left_to_session_state``).
Files are read incrementally (only appended lines); only lines with usage are decoded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmledger.sources.base import FileParse, FileSource, Record, SourceFile
from llmledger.sources.copilot_cli import copilot_home
from llmledger.sources.jsonl import JsonlReader, marker_pattern
from llmledger.sources.walk import existing_dirs, walk_files

# The OTLP reader (and hashlib, for its ids) loads when a file is parsed: every report's scan
# imports this module, most find nothing new to read.
if TYPE_CHECKING:
    from llmledger.events import UsageEvent
    from llmledger.otel.otlp_json import OtlpRecord

NAME = "copilot-otel"
EXPORT_PATH = "COPILOT_OTEL_FILE_EXPORTER_PATH"
MARKERS = marker_pattern(b'"gen_ai.usage.')


def export_dir(env: Mapping[str, str]) -> Path:
    return copilot_home(env) / "otel"


def has_session_state(session: str, state_dir: Path) -> bool:
    """Copilot CLI keeps this session's totals itself (``session-state/<id>/events.jsonl`` or
    the older ``<id>.jsonl``): the ``copilot-cli`` source counts them."""
    if not session or "/" in session or session.startswith("."):
        return False
    return (state_dir / session / "events.jsonl").is_file() or (
        state_dir / f"{session}.jsonl"
    ).is_file()


def is_copilot(record: OtlpRecord) -> bool:
    """A span of Copilot's runtime: its service (``github-copilot`` unless
    ``OTEL_SERVICE_NAME`` renames it) or its ``github.copilot.*`` attributes."""
    if record.resource.get("service.name") == "github-copilot":
        return True
    return any(key.startswith("github.copilot.") for key in record.attributes)


def left_to_session_state(record: OtlpRecord, event: UsageEvent) -> bool:
    """A Copilot call whose session the ``copilot-cli`` source counts from session-state
    (looked up under this process's ``COPILOT_HOME`` / ``HOME``)."""
    if not is_copilot(record):
        return False
    return has_session_state(event.session_id or "", copilot_home(os.environ) / "session-state")


def to_record(event: UsageEvent) -> Record:
    return Record(
        id=event.id,
        ts=event.ts,
        model=event.model,
        provider=event.provider,
        input_tokens=event.input_tokens,
        cache_read_tokens=event.cache_read_tokens,
        cache_write_tokens=event.cache_write_tokens,
        cache_write_1h_tokens=event.cache_write_1h_tokens,
        output_tokens=event.output_tokens,
        reasoning_tokens=event.reasoning_tokens,
        session_id=event.session_id,
        project=None,
        requests=event.requests,
        rank=event.total_tokens,
    )


def parse_lines(lines: Iterator[bytes], state_dir: Path) -> tuple[list[Record], int]:
    """Pure but for the session-state lookup: exporter lines to the records of their chat
    spans, and the number of lines that are not JSON (or hold impossible counts)."""
    from llmledger.otel.ingest import event_from_record, is_agent_rollup
    from llmledger.otel.otlp_json import records_of

    records: list[Record] = []
    malformed = 0
    for line in lines:
        try:
            document = json.loads(line)
        except (ValueError, RecursionError):
            malformed += 1
            continue
        for otlp in records_of(document):
            if is_agent_rollup(otlp):
                continue
            event = event_from_record(otlp)
            # Every span of these files is Copilot's: no need to recognise it first.
            if event is None or has_session_state(event.session_id or "", state_dir):
                continue
            try:
                event.validate()
            except ValueError:  # InvalidEventError: e.g. more reasoning than output
                malformed += 1
                continue
            records.append(to_record(event))
    return records, malformed


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    """The chat spans appended since ``offset``. Parsers run without the scan's environment,
    so session-state is looked up under this process's ``COPILOT_HOME`` / ``HOME``."""
    reader = JsonlReader(path, offset, MARKERS, budget)
    state_dir = copilot_home(os.environ) / "session-state"
    records, malformed = parse_lines(reader.candidates(), state_dir)
    return FileParse(records, reader.end_offset, malformed + reader.oversized, {}, reader.complete)


class CopilotOtel(FileSource):
    name = NAME
    title = "Copilot CLI OTel"  # not wider than the widest title (the empty-state column)
    shortcut = "copilot-otel"  # llmledger daily --copilot-otel

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        configured = env.get(EXPORT_PATH, "").strip()
        extra = [Path(configured).expanduser()] if configured else []
        return [export_dir(env), *extra]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        seen: set[str] = set()
        for root in existing_dirs(self.roots(env)[:1]):
            for path in walk_files(root, lambda name: name.endswith(".jsonl")):
                seen.add(os.path.realpath(path))
                yield SourceFile(NAME, path, "jsonl")
        for configured in self.roots(env)[1:]:
            if configured.is_file() and os.path.realpath(configured) not in seen:
                yield SourceFile(NAME, str(configured), "jsonl")

    parse = staticmethod(parse_file)


SOURCE = CopilotOtel()

"""GitHub Copilot CLI sessions: ``${COPILOT_HOME:-~/.copilot}/session-state/<id>/events.jsonl``
(older versions: ``session-state/<id>.jsonl``).

Lines are ``{"type", "data", "id", "timestamp"}`` events. Per-call usage events are ephemeral
(never written), so usage comes from ``session.shutdown``: ``data.modelMetrics`` keyed by model,
each with ``usage {inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens,
reasoningTokens}`` and ``requests.count``. ``inputTokens`` includes both cache fields and
``reasoningTokens`` is inside ``outputTokens``.

A resumed session appends another shutdown to the same file. Versions that write
``session.usage_checkpoint`` events keep the totals across resumes: a shutdown after a
checkpoint counts what grew since the previous shutdown (a counter that went down is a reset).
Older versions reset on resume: a shutdown with no checkpoint before it counts in full. Both
depend only on the file, not on when it was scanned. Each shutdown's share per model is one
event, id ``copilot-cli:<session>:<shutdown id>:<model>``, dated at the shutdown. Files are
read incrementally (what was appended), with the session's state carried between reads; only
the session lines are decoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import (
    Count,
    FileParse,
    FileSource,
    Record,
    SourceFile,
    env_dir,
    nonnegative,
)
from llmledger.sources.jsonl import JsonlReader, marker_pattern

NAME = "copilot-cli"
MARKERS = marker_pattern(b'"session.shutdown"', b'"session.usage_checkpoint"', b'"session.start"')
_LONG_CONTEXT_TAIL = re.compile(r"-1m(-internal)?$")


class _Usage(msgspec.Struct):
    inputTokens: Count | None = None
    outputTokens: Count | None = None
    cacheReadTokens: Count | None = None
    cacheWriteTokens: Count | None = None
    reasoningTokens: Count | None = None


class _Requests(msgspec.Struct):
    count: Count | None = None


class _Metrics(msgspec.Struct):
    usage: _Usage | None = None
    requests: _Requests | None = None


class _Context(msgspec.Struct):
    cwd: str | None = None


class _Data(msgspec.Struct):
    sessionId: str | None = None
    context: _Context | None = None
    modelMetrics: dict[str, Any] | None = None  # model -> _Metrics, converted one by one


class _Kind(msgspec.Struct):
    type: Any = None


class _Event(msgspec.Struct):
    type: str | None = None
    id: str | None = None
    timestamp: datetime | None = None
    data: _Data | None = None


_decode = msgspec.json.Decoder(_Event).decode
_decode_kind = msgspec.json.Decoder(_Kind).decode
SESSION_EVENTS = frozenset({"session.start", "session.usage_checkpoint", "session.shutdown"})

# input (without cache), cache read, cache write, output, reasoning, requests
Counts = tuple[int, int, int, int, int, int]


def model_name(raw: str) -> str:
    """``openai/gpt-4.1`` -> ``gpt-4.1``; the long-context ``-1m`` variants price as the base."""
    return _LONG_CONTEXT_TAIL.sub("", raw.rsplit("/", 1)[-1]) or "unknown"


def _counts(metrics: _Metrics) -> Counts:
    usage = metrics.usage or _Usage()
    cache_read, cache_write = (
        nonnegative(usage.cacheReadTokens),
        nonnegative(usage.cacheWriteTokens),
    )
    output = nonnegative(usage.outputTokens)
    requests = nonnegative(metrics.requests.count if metrics.requests else None)
    return (
        max(nonnegative(usage.inputTokens) - cache_read - cache_write, 0),
        cache_read,
        cache_write,
        output,
        min(nonnegative(usage.reasoningTokens), output),
        requests,
    )


def _share(counts: Counts, before: Counts | None) -> Counts:
    """What one cumulative shutdown adds to the one before it (all of it after a reset)."""
    if before is None or any(now < then for now, then in zip(counts, before)):
        return counts
    return tuple(now - then for now, then in zip(counts, before))  # type: ignore[return-value]


def parse_events(
    lines: Iterable[bytes], fallback_session: str, carry: dict[str, Any] | None = None
) -> tuple[list[Record], int, dict[str, Any]]:
    """Pure: events lines (those without a session event may be left out) to usage records,
    the number of malformed session events, and the state to read the lines after them with
    (``carry``: the same state from the lines before). Reading a file in parts gives what
    reading it whole does."""
    state = carry or {}
    session: str = state.get("session") or fallback_session
    project: str | None = state.get("project")
    checkpoints: int = state.get("checkpoints", 0)
    shutdowns: int = state.get("shutdowns", 0)  # numbers shutdowns that have no id
    last: dict[str, Counts] = {m: tuple(c) for m, c in state.get("last", {}).items()}
    records: list[Record] = []
    malformed = 0
    for line in lines:
        if not MARKERS.search(line):
            continue
        try:
            kind = _decode_kind(line).type
            if not isinstance(kind, str) or kind not in SESSION_EVENTS:
                continue  # a line that only mentions a session event
            event = _decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            malformed += 1
            continue
        data = event.data
        if event.type == "session.start" and data is not None:
            session = data.sessionId or session
            if data.context is not None and data.context.cwd:
                project = data.context.cwd
        elif event.type == "session.usage_checkpoint":
            checkpoints += 1
        elif event.type == "session.shutdown":
            if event.timestamp is None or data is None:
                malformed += 1
                continue
            moment = event.timestamp
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            shutdown_id = event.id or f"shutdown{shutdowns}"
            shutdowns += 1
            for raw_model, raw_metrics in (data.modelMetrics or {}).items():
                try:
                    counts = _counts(msgspec.convert(raw_metrics, _Metrics))
                except msgspec.ValidationError:
                    malformed += 1
                    continue
                # After a checkpoint the totals are cumulative: count what grew.
                share = _share(counts, last.get(raw_model)) if checkpoints else counts
                last[raw_model] = counts
                record = _record(session, project, shutdown_id, raw_model, moment, share)
                if record is not None:
                    records.append(record)
    state = {
        "session": session,
        "project": project,
        "checkpoints": checkpoints,
        "shutdowns": shutdowns,
        "last": {m: list(c) for m, c in last.items()},
    }
    return records, malformed, state


def _record(
    session: str,
    project: str | None,
    shutdown_id: str,
    raw_model: str,
    moment: datetime,
    share: Counts,
) -> Record | None:
    fresh, cache_read, cache_write, output, reasoning, requests = share
    if not (fresh or cache_read or cache_write or output):
        return None
    return Record(
        id=f"{NAME}:{session}:{shutdown_id}:{raw_model}",
        ts=moment,
        model=model_name(raw_model),
        provider=None,
        input_tokens=fresh,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=0,
        output_tokens=output,
        reasoning_tokens=reasoning,
        session_id=session,
        project=project,
        requests=requests,
        rank=fresh + cache_read + cache_write + output,
    )


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    """From ``offset`` on, with the state the lines before it left (``carry``); only the
    session lines are decoded. A last line still being written is left for the next read."""
    session = path.parent.name if path.name == "events.jsonl" else path.stem
    if carry is None:  # no state from the lines before (a cursor of the whole-file reader
        offset = 0  # older versions had): read them again, same ids, nothing counted twice
    reader = JsonlReader(path, offset, MARKERS, budget)
    records, malformed, state = parse_events(reader.candidates(), session, carry)
    return FileParse(
        records, reader.end_offset, malformed + reader.oversized, state, reader.complete
    )


def copilot_home(env: Mapping[str, str]) -> Path:
    return env_dir(env, "COPILOT_HOME", ".copilot")


class CopilotCli(FileSource):
    name = NAME
    title = "Copilot CLI"
    shortcut = "copilot"  # llmledger daily --copilot

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [copilot_home(env) / "session-state"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in self.roots(env):
            try:
                entries = sorted(root.iterdir())
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir():
                        events = entry / "events.jsonl"
                        if events.is_file():
                            yield SourceFile(NAME, str(events), "jsonl")
                    elif entry.suffix == ".jsonl" and entry.is_file():
                        yield SourceFile(NAME, str(entry), "jsonl")
                except OSError:
                    continue

    parse = staticmethod(parse_file)


SOURCE = CopilotCli()

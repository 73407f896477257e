"""Gemini CLI chats: ``~/.gemini/tmp/<projectHash>/chats/``.

Two formats: legacy ``session-*.json`` (one object with ``messages``), read whole whenever it
changes, and current ``session-*.jsonl`` (a metadata line, then message records re-appended
whenever they change, ``{"$set": …}`` metadata patches and ``{"$rewindTo": id}`` markers), read
incrementally. Subagent chats sit in ``chats/<parentSessionId>/<sessionId>.jsonl``.

Each ``gemini`` message with ``tokens`` is one API call, id ``gemini:<sessionId>:<messageId>``;
a re-appended record is the same call (the last copy wins). A rewind removes messages from the
conversation, not from the bill: rewound calls were made and still count. ``tokens`` is the
API's ``usageMetadata`` under Gemini CLI's names, mapped by ``usage.gemini.gemini_tokens``
(``input`` includes ``cached``; ``thoughts`` are not in ``output`` but billed as output;
``tool``, tool-use prompt tokens, is input that ``input`` does not include).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import (
    Count,
    FileKind,
    FileParse,
    FileSource,
    Record,
    SourceFile,
    home_dir,
)
from llmledger.sources.jsonl import JsonlReader, marker_pattern
from llmledger.sources.walk import walk_files
from llmledger.usage.gemini import GeminiUsage, gemini_tokens

NAME = "gemini-cli"
PROVIDER = "google"


class _Tokens(msgspec.Struct):
    """Gemini CLI's copy of the API's ``usageMetadata``, under its own names."""

    input: Count | None = None  # promptTokenCount
    output: Count | None = None  # candidatesTokenCount
    cached: Count | None = None  # cachedContentTokenCount
    thoughts: Count | None = None  # thoughtsTokenCount
    tool: Count | None = None  # toolUsePromptTokenCount
    total: Count | None = None  # totalTokenCount

    def usage(self) -> GeminiUsage:
        return GeminiUsage(
            promptTokenCount=self.input,
            candidatesTokenCount=self.output,
            cachedContentTokenCount=self.cached,
            thoughtsTokenCount=self.thoughts,
            toolUsePromptTokenCount=self.tool,
            totalTokenCount=self.total,
        )


class _Message(msgspec.Struct):
    id: str | None = None
    timestamp: datetime | None = None
    type: str | None = None
    model: str | None = None
    tokens: _Tokens | None = None


class _Patch(msgspec.Struct):
    sessionId: str | None = None
    messages: list[_Message] | None = None


class _Line(msgspec.Struct):
    """Any record of a ``.jsonl`` chat: metadata, a message, a ``$set`` patch or a rewind."""

    id: str | None = None
    timestamp: datetime | None = None
    type: str | None = None
    model: str | None = None
    tokens: _Tokens | None = None
    sessionId: str | None = None
    projectHash: str | None = None
    directories: list[str] | None = None
    patch: _Patch | None = msgspec.field(default=None, name="$set")


class _Session(msgspec.Struct):
    sessionId: str | None = None
    projectHash: str | None = None
    directories: list[str] | None = None
    messages: list[_Message] | None = None


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_session = msgspec.json.Decoder(_Session).decode
MARKERS = marker_pattern(b'"tokens"')


class Malformed(Exception):
    """A record that is not valid chat JSON."""


def record_from_message(message: _Message, session: str, project: str | None) -> Record | None:
    """Pure: the usage record of one chat message (None unless a gemini reply with tokens)."""
    tokens = message.tokens
    if message.type != "gemini" or tokens is None or not message.id or message.timestamp is None:
        return None
    counts = gemini_tokens(tokens.usage())
    rank = counts.total_tokens
    if not rank:
        return None
    return Record(
        id=f"gemini:{session}:{message.id}",
        ts=message.timestamp,
        model=message.model or "unknown",
        provider=PROVIDER,
        input_tokens=counts.input_tokens,
        cache_read_tokens=counts.cache_read_tokens,
        cache_write_tokens=counts.cache_write_tokens,
        cache_write_1h_tokens=counts.cache_write_1h_tokens,
        output_tokens=counts.output_tokens,
        reasoning_tokens=counts.reasoning_tokens,
        session_id=session,
        project=project,
        details=counts.details,
        rank=rank,
    )


def _collect(
    messages: Iterable[_Message], session: str, project: str | None, into: dict[str, Record]
) -> None:
    for message in messages:
        record = record_from_message(message, session, project)
        if record is not None:
            into.pop(record.id, None)  # the last copy wins, in its latest position
            into[record.id] = record


def _path_context(path: Path) -> tuple[str, str | None]:
    """Fallback (session, project hash) from ``tmp/<hash>/chats/[<parent>/]<file>``."""
    parts = path.parts
    project = None
    if "chats" in parts:
        index = len(parts) - 1 - parts[::-1].index("chats")
        project = parts[index - 1] if index > 0 else None
    return path.stem, project


def _project(
    project_hash: str | None, directories: list[str] | None, fallback: str | None
) -> str | None:
    if directories:
        return directories[0]
    return project_hash or fallback


def parse_document(data: bytes, path: Path) -> list[Record]:
    """Pure: a legacy ``session-*.json`` chat to its records. Raises Malformed."""
    try:
        session = _decode_session(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    fallback_session, fallback_project = _path_context(path)
    session_id = session.sessionId or fallback_session
    project = _project(session.projectHash, session.directories, fallback_project)
    found: dict[str, Record] = {}
    _collect(session.messages or (), session_id, project, found)
    return list(found.values())


def parse_jsonl(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    fallback_session, fallback_project = _path_context(path)
    state = dict(carry) if carry else {"session": None, "project": fallback_project}
    reader = JsonlReader(path, offset, MARKERS, budget)
    found: dict[str, Record] = {}
    malformed = 0
    header_seen = offset > 0

    def take(line: bytes) -> None:
        nonlocal malformed
        try:
            record = _decode_line(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            malformed += 1
            return
        session = state["session"] or fallback_session
        if record.patch is not None and record.patch.messages:
            _collect(record.patch.messages, session, state["project"], found)
        message = _Message(record.id, record.timestamp, record.type, record.model, record.tokens)
        _collect((message,), session, state["project"], found)

    def header(line: bytes) -> None:
        try:
            meta = _decode_line(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return
        if meta.sessionId:
            state["session"] = meta.sessionId
            state["project"] = _project(meta.projectHash, meta.directories, state["project"])

    for line in reader.lines():
        if not header_seen and reader.first_line is not None:
            header(reader.first_line)
            header_seen = True
        take(line)
    if reader.tail is not None and reader.tail_is_record():
        if not header_seen:
            header(reader.tail)
            header_seen = True
        if MARKERS.search(reader.tail):
            take(reader.tail)
        reader.accept_tail()
    if not header_seen and reader.first_line is not None:
        header(reader.first_line)
    state["session"] = state["session"] or fallback_session
    return FileParse(
        list(found.values()),
        reader.end_offset,
        malformed + reader.oversized,
        state,
        reader.complete,
    )


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    if path.suffix == ".jsonl":
        return parse_jsonl(path, offset, carry, budget)
    data = path.read_bytes()
    try:
        records = parse_document(data, path)
    except Malformed:
        return FileParse([], len(data), 1, None)
    return FileParse(records, len(data), 0, None)


def _is_chat(name: str) -> bool:
    return name.endswith((".json", ".jsonl")) and not name.startswith(".")


class GeminiCli(FileSource):
    name = NAME
    title = "Gemini CLI"
    shortcut = "gemini"  # llmledger daily --gemini

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [home_dir(env) / ".gemini" / "tmp"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in self.roots(env):
            try:
                projects = sorted(p for p in root.iterdir() if p.is_dir())
            except OSError:
                continue
            for project in projects:
                for path in walk_files(project / "chats", _is_chat, max_depth=2):
                    kind: FileKind = "jsonl" if path.endswith(".jsonl") else "document"
                    yield SourceFile(NAME, path, kind)

    parse = staticmethod(parse_file)


SOURCE = GeminiCli()

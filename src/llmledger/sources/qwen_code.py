"""Qwen Code chats: ``~/.qwen/projects/<project>/chats/<sessionId>.jsonl`` (older versions:
``~/.qwen/tmp/<hash>/chats/``).

Each ``assistant`` record with ``usageMetadata`` is one API call, id ``qwen-code:<uuid>``
(``/branch`` copies records verbatim, uuid included, so a branched session counts once).
``usageMetadata`` is Gemini's usage object, mapped by ``usage.gemini.gemini_tokens``:
``promptTokenCount`` includes ``cachedContentTokenCount``; ``thoughtsTokenCount`` is billed as
output on top of ``candidatesTokenCount``, unless the record's total leaves it out (Qwen Code
over an OpenAI-compatible backend logs ``completion_tokens``, reasoning included, as
candidates). Older Gemini-style ``session-*.json`` chats are read like Gemini CLI's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources import gemini_cli
from llmledger.sources.base import (
    FileParse,
    FileSource,
    Record,
    SourceFile,
    home_dir,
)
from llmledger.sources.jsonl import JsonlReader, marker_pattern
from llmledger.sources.walk import walk_files
from llmledger.usage.gemini import GeminiUsage, gemini_tokens

NAME = "qwen-code"


class _Record(msgspec.Struct):
    uuid: str | None = None
    sessionId: str | None = None
    timestamp: datetime | None = None
    type: str | None = None
    cwd: str | None = None
    model: str | None = None
    usageMetadata: GeminiUsage | None = None  # the API's usage object, as logged


_decode = msgspec.json.Decoder(_Record).decode
MARKERS = marker_pattern(b'"usageMetadata"')


class Malformed(Exception):
    """A line that is not a valid Qwen Code chat record."""


def parse_line(line: bytes, session: str, project: str | None) -> Record | None:
    """Pure: one chat record to its usage record (None when it has no usage). Raises Malformed."""
    try:
        entry = _decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    usage = entry.usageMetadata
    if entry.type != "assistant" or usage is None or not entry.uuid or entry.timestamp is None:
        return None
    counts = gemini_tokens(usage)
    rank = counts.total_tokens
    if not rank:
        return None
    return Record(
        id=f"{NAME}:{entry.uuid}",
        ts=entry.timestamp,
        model=entry.model or "unknown",
        provider=None,
        input_tokens=counts.input_tokens,
        cache_read_tokens=counts.cache_read_tokens,
        cache_write_tokens=counts.cache_write_tokens,
        cache_write_1h_tokens=counts.cache_write_1h_tokens,
        output_tokens=counts.output_tokens,
        reasoning_tokens=counts.reasoning_tokens,
        session_id=entry.sessionId or session,
        project=entry.cwd or project,
        details=counts.details,
        rank=rank,
    )


def _project(path: Path) -> str | None:
    parts = path.parts
    if "chats" in parts:
        index = len(parts) - 1 - parts[::-1].index("chats")
        return parts[index - 1] if index > 0 else None
    return None


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    if path.suffix == ".json":  # an older, Gemini-style chat
        parsed = gemini_cli.parse_file(path, 0, None, budget)
        prefix = len(gemini_cli.NAME)
        parsed.records = [
            r._replace(id=NAME + r.id[prefix:], provider=None) for r in parsed.records
        ]
        return parsed
    session, project = path.stem, _project(path)
    reader = JsonlReader(path, offset, MARKERS, budget)
    found: dict[str, Record] = {}
    malformed = 0
    for line in reader.candidates():
        try:
            record = parse_line(line, session, project)
        except Malformed:
            malformed += 1
            continue
        if record is not None:
            found[record.id] = record
    return FileParse(
        list(found.values()), reader.end_offset, malformed + reader.oversized, None, reader.complete
    )


def _is_chat(name: str) -> bool:
    return name.endswith((".jsonl", ".json")) and not name.startswith(".")


class QwenCode(FileSource):
    name = NAME
    title = "Qwen Code"
    shortcut = "qwen"  # llmledger daily --qwen

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        base = home_dir(env) / ".qwen"
        return [base / "projects", base / "tmp"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in self.roots(env):
            try:
                projects = sorted(p for p in root.iterdir() if p.is_dir())
            except OSError:
                continue
            for project in projects:
                for path in walk_files(project / "chats", _is_chat, max_depth=2):
                    if path.endswith(".jsonl"):
                        yield SourceFile(NAME, path, "jsonl")
                    else:
                        yield SourceFile(NAME, path, "document")

    parse = staticmethod(parse_file)


SOURCE = QwenCode()

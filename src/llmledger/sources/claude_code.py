"""Claude Code transcripts: ``<config dir>/projects/<project>/<session>.jsonl`` (and subagent
files below it).

Every ``assistant`` line with ``message.usage`` (and every ``progress`` line carrying a
subagent's message in ``data.message``) is one copy of an API call. Copies share the id
``claude:<message.id>``: streaming writes several copies with a growing ``output_tokens``,
resumed sessions copy earlier ones into new files, sidechains replay a parent's messages, and
side questions (``/btw``, ``subagents/agent-aside_question-*.jsonl``) re-log the parent's
messages with the same ``message.id`` under a NEW ``requestId`` (notes/agent-logs.md, Claude
duplicates, case 5). The request id is therefore not part of the id: an API response's message
id is unique on its own. A scan keeps one copy per id: a non-sidechain copy over a sidechain
replay, then the copy with the most tokens; the ledger replaces a stored copy only by a larger
one, so a replay never moves a call to the replay's time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import (
    PRIMARY_BONUS,
    FileParse,
    FileSource,
    Record,
    SourceFile,
    home_dir,
    keep_best,
    xdg_dir,
)
from llmledger.sources.jsonl import JsonlReader, marker_pattern
from llmledger.sources.walk import existing_dirs, walk_files
from llmledger.usage.anthropic import AnthropicUsage, anthropic_tokens

NAME = "claude-code"
PROVIDER = "anthropic"
SYNTHETIC_MODEL = "<synthetic>"


class _Message(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    usage: AnthropicUsage | None = None  # the API's usage object, as logged


class _Entry(msgspec.Struct):
    """A transcript line, or the subagent line nested in a progress line's ``data.message``."""

    type: str | None = None
    timestamp: datetime | None = None
    sessionId: str | None = None
    cwd: str | None = None
    requestId: str | None = None
    uuid: str | None = None
    isSidechain: bool | None = None
    message: _Message | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")


class _ProgressData(msgspec.Struct):
    message: _Entry | None = None


_decode_entry = msgspec.json.Decoder(_Entry).decode
_decode_progress = msgspec.json.Decoder(_ProgressData).decode
USAGE_MARKER = marker_pattern(b'"usage"')


class Malformed(Exception):
    """A line that is not a valid transcript record."""


def record_from_entry(
    entry: _Entry, outer: _Entry | None, session: str | None, project: str | None
) -> Record | None:
    """The usage record of one transcript entry (``outer`` is the progress line around a
    nested subagent entry), or None when it carries no billable usage."""
    message = entry.message
    if message is None or message.usage is None:
        return None
    model = message.model or "unknown"
    if model == SYNTHETIC_MODEL:
        return None
    ts = entry.timestamp or (outer.timestamp if outer is not None else None)
    if ts is None:
        return None
    message_id = message.id or entry.uuid
    if not message_id:
        return None
    record_id = f"claude:{message_id}"
    tokens = anthropic_tokens(message.usage)
    context = outer if outer is not None else entry
    sidechain = bool(entry.isSidechain) or bool(outer is not None and outer.isSidechain)
    # The dedup rank (see base.ranked), computed here: this runs once per usage line.
    rank = tokens.total_tokens + (0 if sidechain else PRIMARY_BONUS)
    return Record(
        record_id,
        ts,
        model,
        PROVIDER,
        tokens.input_tokens,
        tokens.cache_read_tokens,
        tokens.cache_write_tokens,
        tokens.cache_write_1h_tokens,
        tokens.output_tokens,
        tokens.reasoning_tokens,
        entry.sessionId or context.sessionId or session,
        entry.cwd or context.cwd or project,
        1,
        tokens.details,
        None,
        rank,
    )


def parse_line(line: bytes, session: str | None, project: str | None) -> Record | None:
    """Pure: one JSONL line to its usage record (None if it has none). Raises Malformed."""
    try:
        entry = _decode_entry(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    if entry.type == "assistant":
        return record_from_entry(entry, None, session, project)
    if entry.type == "progress":
        try:
            nested = _decode_progress(entry.data).message
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None  # a progress payload of another shape: no usage in it
        if nested is not None:
            return record_from_entry(nested, entry, session, project)
    return None


def _context(path: Path) -> tuple[str | None, str | None]:
    """Fallback session and project from the path: ``projects/<project>/<session>.jsonl``."""
    parts = path.parts
    if "projects" in parts:
        index = len(parts) - 1 - parts[::-1].index("projects")
        project = parts[index + 1] if index + 1 < len(parts) - 1 else None
        session = parts[index + 2] if index + 2 < len(parts) - 1 else path.stem
        return session.removesuffix(".jsonl"), project
    return path.stem, None


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    session, project = _context(path)
    reader = JsonlReader(path, offset, USAGE_MARKER, budget)
    best: dict[str, Record] = {}
    malformed = 0

    def take(line: bytes) -> None:
        nonlocal malformed
        try:
            record = parse_line(line, session, project)
        except Malformed:
            malformed += 1
            return
        if record is not None:
            seen = best.get(record.id)
            if seen is None or record.rank >= seen.rank:
                best[record.id] = record

    for line in reader.lines():
        take(line)
    if reader.tail is not None and reader.tail_is_record():
        if USAGE_MARKER.search(reader.tail):
            take(reader.tail)
        reader.accept_tail()
    return FileParse(
        list(best.values()),
        reader.end_offset,
        malformed + reader.oversized,
        None,
        reader.complete,
    )


def config_dirs(env: Mapping[str, str]) -> list[Path]:
    """``CLAUDE_CONFIG_DIR`` (one path or a comma-separated list), else ``~/.config/claude``
    (``$XDG_CONFIG_HOME/claude``) and ``~/.claude``."""
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        return [Path(p.strip()).expanduser() for p in configured.split(",") if p.strip()]
    return [xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "claude", home_dir(env) / ".claude"]


class ClaudeCode(FileSource):
    name = NAME
    title = "Claude Code"
    shortcut = "claude"  # llmledger daily --claude

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [directory / "projects" for directory in config_dirs(env)]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in existing_dirs(self.roots(env)):
            for path in walk_files(root, lambda name: name.endswith(".jsonl")):
                yield SourceFile(NAME, path, "jsonl")

    parse = staticmethod(parse_file)


SOURCE = ClaudeCode()
__all__ = ["SOURCE", "keep_best", "parse_file", "parse_line"]

"""OpenAI Codex CLI rollouts: ``${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-*.jsonl``
and ``archived_sessions/`` (a copy in ``sessions/`` wins over its archived twin).

Usage comes from ``event_msg`` lines of type ``token_count``: ``last_token_usage`` is the call,
``total_token_usage`` the running session total. Codex re-emits events: one whose total equals
the previous total in the file is skipped. Forked and subagent sessions replay their parent's
events with the same timestamps and totals, so an event's id is built from its content (time
and running total), never from the file: a replayed event has the id of the original.
``cached_input_tokens`` is part of ``input_tokens`` and ``reasoning_output_tokens`` part of
``output_tokens``. The model is the last ``turn_context.model`` seen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
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
from llmledger.sources.walk import walk_files

NAME = "codex"
PROVIDER = "openai"
# Rollouts older than ``turn_context`` records do not name their model (notes/agent-logs.md).
FALLBACK_MODEL = "gpt-5"


class _Line(msgspec.Struct):
    timestamp: datetime | None = None
    type: str | None = None
    payload: msgspec.Raw = msgspec.Raw(b"null")


class _Meta(msgspec.Struct):
    id: str | None = None
    cwd: str | None = None
    model_provider: str | None = None
    forked_from_id: str | None = None


class _TurnContext(msgspec.Struct):
    model: str | None = None
    cwd: str | None = None


class _Tokens(msgspec.Struct):
    input_tokens: Count | None = None
    cached_input_tokens: Count | None = None
    output_tokens: Count | None = None
    reasoning_output_tokens: Count | None = None
    total_tokens: Count | None = None

    def values(self) -> list[int]:
        return [
            nonnegative(self.input_tokens),
            nonnegative(self.cached_input_tokens),
            nonnegative(self.output_tokens),
            nonnegative(self.reasoning_output_tokens),
            nonnegative(self.total_tokens),
        ]


class _Info(msgspec.Struct):
    total_token_usage: _Tokens | None = None
    last_token_usage: _Tokens | None = None


class _Event(msgspec.Struct):
    type: str | None = None
    info: _Info | None = None


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_meta = msgspec.json.Decoder(_Meta).decode
_decode_turn = msgspec.json.Decoder(_TurnContext).decode
_decode_event = msgspec.json.Decoder(_Event).decode
_NULL = msgspec.Raw(b"null")
MARKERS = marker_pattern(b'"token_count"', b'"turn_context"', b'"session_meta"')
_UUID_TAIL = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


class Malformed(Exception):
    """A line that is not a valid rollout record."""


def _us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def new_state(path: Path) -> dict[str, Any]:
    found = _UUID_TAIL.search(path.stem)
    return {
        "prev": None,
        "model": None,
        "session": found.group(1) if found else path.stem,
        "cwd": None,
        "provider": None,
    }


def apply_line(line: bytes, state: dict[str, Any]) -> Record | None:
    """Pure but for ``state`` (the rollout so far, updated in place): one line's record."""
    try:
        parsed = _decode_line(line)
        kind = parsed.type
        if parsed.payload == _NULL:
            return None
        if kind == "session_meta":
            meta = _decode_meta(parsed.payload)
            state["session"] = meta.id or state["session"]
            state["cwd"] = meta.cwd or state["cwd"]
            state["provider"] = meta.model_provider or state["provider"]
            return None
        if kind == "turn_context":
            turn = _decode_turn(parsed.payload)
            state["model"] = turn.model or state["model"]
            state["cwd"] = state["cwd"] or turn.cwd
            return None
        if kind != "event_msg":
            return None
        event = _decode_event(parsed.payload)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    if event.type != "token_count" or event.info is None or parsed.timestamp is None:
        return None
    return _record(parsed.timestamp, event.info, state)


def _record(ts: datetime, info: _Info, state: dict[str, Any]) -> Record | None:
    total = info.total_token_usage.values() if info.total_token_usage is not None else None
    previous = state["prev"]
    if total is not None:
        if total == previous:
            return None  # a re-emitted event
        state["prev"] = total
    if info.last_token_usage is not None:
        last = info.last_token_usage.values()
    elif total is not None:  # no per-call numbers: the difference of running totals
        base = previous or [0, 0, 0, 0, 0]
        last = [max(a - b, 0) for a, b in zip(total, base)]
    else:
        return None
    all_input, cached, output, reasoning, _ = last
    cached = min(cached, all_input)
    if not (all_input or output):
        return None
    key = total if total is not None else last
    details: dict[str, Any] | None = None
    model = state["model"]
    if model is None:
        model = FALLBACK_MODEL
        details = {"model_fallback": True}
    provider = state["provider"]
    if provider and provider != PROVIDER:
        details = {**(details or {}), "model_provider": provider}
    return Record(
        id=f"codex:{_us(ts)}:{key[0]}:{key[1]}:{key[2]}:{key[3]}",
        ts=ts,
        model=model,
        provider=PROVIDER,
        input_tokens=all_input - cached,
        cache_read_tokens=cached,
        cache_write_tokens=0,
        cache_write_1h_tokens=0,
        output_tokens=output,
        reasoning_tokens=min(reasoning, output),
        session_id=state["session"],
        project=state["cwd"],
        details=details,
        rank=all_input + output,
    )


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    state = dict(carry) if carry else new_state(path)
    reader = JsonlReader(path, offset, MARKERS, budget)
    records: list[Record] = []
    malformed = 0
    for line in reader.candidates():
        try:
            record = apply_line(line, state)
        except Malformed:
            malformed += 1
            continue
        if record is not None:
            records.append(record)
    return FileParse(
        records, reader.end_offset, malformed + reader.oversized, state, reader.complete
    )


def codex_home(env: Mapping[str, str]) -> Path:
    return env_dir(env, "CODEX_HOME", ".codex")


def _is_rollout(name: str) -> bool:
    return name.startswith("rollout-") and name.endswith(".jsonl")


class Codex(FileSource):
    name = NAME
    title = "Codex CLI"

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        home = codex_home(env)
        return [home / "sessions", home / "archived_sessions"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        sessions, archived = self.roots(env)
        names: set[str] = set()
        for path in walk_files(sessions, _is_rollout):
            names.add(os.path.basename(path))
            yield SourceFile(NAME, path, "jsonl")
        for path in walk_files(archived, _is_rollout):
            if os.path.basename(path) not in names:
                yield SourceFile(NAME, path, "jsonl")

    parse = staticmethod(parse_file)


SOURCE = Codex()

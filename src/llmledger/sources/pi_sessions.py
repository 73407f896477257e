"""The session files of pi (badlogic/pi-mono's coding agent) and of the agents built on it
(OpenClaw): JSON Lines, a ``{"type": "session", "id", "timestamp", "cwd", "version"}`` header,
then entries ``{"type", "id", "parentId", "timestamp", ...}`` (session-manager.ts). An
``assistant`` message entry is one API call:

    {"type":"message","id":"a1b2c3d4","parentId":"…","timestamp":"2026-01-20T10:00:05.120Z",
     "message":{"role":"assistant","content":[…],"api":"anthropic-messages",
     "provider":"anthropic","model":"claude-opus-4-5","usage":{"input":12,"output":480,
     "cacheRead":20480,"cacheWrite":1024,"totalTokens":21996,"cost":{…,"total":0.0412}},
     "stopReason":"toolUse","timestamp":1768903205120}}

``usage`` (pi-ai's ``Usage``): ``input`` is the fresh input (pi subtracts the cached part of an
OpenAI prompt; Anthropic's is fresh already), ``cacheRead`` and ``cacheWrite`` the cache, and
``output`` the output as pi logged it (for OpenAI Chat Completions pi adds the reasoning tokens
to ``completion_tokens``: kept as logged). pi's own cost estimate (``cost.total``) goes into the
event's details; the ledger prices the call itself.

The tree (``parentId``) branches in place: a branch adds entries, it never copies them; a fork
(``/fork``) copies the path into a new session file. The id of a call is therefore its content:
``<source>:<message timestamp ms>:<input>:<output>:<cacheRead>:<cacheWrite>``, the same in the
fork's copy. Messages with no tokens (an aborted request) are no calls.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import Count, FileParse, Record, nonnegative
from llmledger.sources.jsonl import JsonlReader, marker_pattern

# pi's provider names as the price book knows them (others are matched by model alone).
PROVIDERS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai-codex": "openai",
    "azure-openai-responses": "openai",
    "google": "gemini",
    "google-gemini-cli": "gemini",
    "google-vertex": "gemini",
    "xai": "xai",
}
MARKERS = marker_pattern(b'"usage"', b'"session"')


class _Cost(msgspec.Struct):
    total: float | None = None


class _Usage(msgspec.Struct):
    input: Count | None = None
    output: Count | None = None
    cacheRead: Count | None = None
    cacheWrite: Count | None = None
    cost: _Cost | None = None


class _Message(msgspec.Struct):
    role: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: _Usage | None = None
    timestamp: float | None = None  # unix milliseconds
    stopReason: str | None = None


class _Entry(msgspec.Struct):
    type: str | None = None
    id: str | None = None
    timestamp: datetime | None = None
    cwd: str | None = None
    message: _Message | None = None


_decode = msgspec.json.Decoder(_Entry).decode


class Malformed(Exception):
    """A line that is not a pi session entry."""


def record_of(entry: _Entry, source: str, state: dict[str, Any]) -> Record | None:
    """Pure but for ``state`` (the session's id and cwd, from its header): one entry's call."""
    if entry.type == "session":
        state["session"] = entry.id or state.get("session")
        state["cwd"] = entry.cwd or state.get("cwd")
        return None
    message = entry.message
    if entry.type != "message" or message is None or message.role != "assistant":
        return None
    usage = message.usage
    if usage is None:
        return None
    fresh, output = nonnegative(usage.input), nonnegative(usage.output)
    read, write = nonnegative(usage.cacheRead), nonnegative(usage.cacheWrite)
    if not (fresh or output or read or write):
        return None
    if message.timestamp is not None and message.timestamp > 0:
        millis = int(message.timestamp)
        ts = datetime.fromtimestamp(millis / 1000, timezone.utc)
    elif entry.timestamp is not None:
        ts = entry.timestamp
        millis = int(ts.timestamp() * 1000)
    else:
        return None
    details: dict[str, Any] = {}
    if usage.cost is not None and usage.cost.total:
        details["reported_cost_usd"] = usage.cost.total
    if message.provider:
        details["provider"] = message.provider
    if message.stopReason in ("error", "aborted"):
        details["stop_reason"] = message.stopReason
    return Record(
        id=f"{source}:{millis}:{fresh}:{output}:{read}:{write}",
        ts=ts,
        model=message.model or "unknown",
        provider=PROVIDERS.get(message.provider or ""),
        input_tokens=fresh,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=0,
        output_tokens=output,
        reasoning_tokens=0,
        session_id=state.get("session"),
        project=state.get("cwd"),
        details=details or None,
        rank=fresh + output + read + write,
    )


def parse_line(line: bytes, source: str, state: dict[str, Any]) -> Record | None:
    """One line to its call (None: none). Raises Malformed."""
    try:
        entry = _decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    return record_of(entry, source, state)


def parse_file(
    path: Path, offset: int, carry: dict[str, Any] | None, budget: int, source: str
) -> FileParse:
    # A file without a header (or read from past it) falls back to its name for the session:
    # pi names files ``<timestamp>_<uuid>.jsonl``, OpenClaw ``<session id>.jsonl``.
    state = dict(carry) if carry else {"session": path.stem.rpartition("_")[2], "cwd": None}
    reader = JsonlReader(path, offset, MARKERS, budget)
    records: list[Record] = []
    malformed = 0
    for line in reader.candidates():
        try:
            record = parse_line(line, source, state)
        except Malformed:
            malformed += 1
            continue
        if record is not None:
            records.append(record)
    return FileParse(
        records, reader.end_offset, malformed + reader.oversized, state, reader.complete
    )

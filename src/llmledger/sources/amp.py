"""Amp threads: ``${XDG_DATA_HOME:-~/.local/share}/amp/threads/T-<uuid>.json``, one JSON
document per thread, read whole whenever it changes.

Each assistant message's ``usage`` (``inputTokens`` without the cache,
``cacheCreationInputTokens``, ``cacheReadInputTokens``, ``outputTokens``) is one call, id
``amp:<threadId>:<messageId>``. Threads that keep usage only in ``usageLedger.events``
(``tokens {input, output}`` per inference) are read from there, with the same id when the event
names the message it produced.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import msgspec

from llmledger.sources.base import (
    Count,
    FileParse,
    FileSource,
    Record,
    SourceFile,
    nonnegative,
    utc_from_ms,
    xdg_dir,
)
from llmledger.sources.walk import walk_files

NAME = "amp"


class _Usage(msgspec.Struct):
    model: str | None = None
    timestamp: datetime | None = None
    inputTokens: Count | None = None
    outputTokens: Count | None = None
    cacheCreationInputTokens: Count | None = None
    cacheReadInputTokens: Count | None = None


class _Message(msgspec.Struct):
    role: str | None = None
    messageId: int | str | None = None
    usage: _Usage | None = None


class _LedgerTokens(msgspec.Struct):
    input: Count | None = None
    output: Count | None = None
    cacheCreationInputTokens: Count | None = None
    cacheReadInputTokens: Count | None = None


class _LedgerEvent(msgspec.Struct):
    id: str | None = None
    timestamp: datetime | None = None
    model: str | None = None
    tokens: _LedgerTokens | None = None
    toMessageId: int | str | None = None


class _Ledger(msgspec.Struct):
    events: list[_LedgerEvent] | None = None


class _Tree(msgspec.Struct):
    uri: str | None = None


class _Initial(msgspec.Struct):
    trees: list[_Tree] | None = None


class _Env(msgspec.Struct):
    initial: _Initial | None = None


class _Thread(msgspec.Struct):
    id: str | None = None
    created: float | None = None
    messages: list[_Message] | None = None
    usageLedger: _Ledger | None = None
    env: _Env | None = None


_decode = msgspec.json.Decoder(_Thread).decode


class Malformed(Exception):
    """A thread file that is not valid Amp thread JSON."""


def _project(thread: _Thread) -> str | None:
    initial = thread.env.initial if thread.env is not None else None
    for tree in (initial.trees or []) if initial is not None else []:
        if tree.uri:
            parsed = urlparse(tree.uri)
            return unquote(parsed.path) if parsed.scheme == "file" else tree.uri
    return None


def parse_thread(data: bytes, fallback_id: str) -> list[Record]:
    """Pure: one thread document to its records. Raises Malformed."""
    try:
        thread = _decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    thread_id = thread.id or fallback_id
    project = _project(thread)
    created = utc_from_ms(thread.created) if thread.created else None
    records: dict[str, Record] = {}

    def add(
        key: str, ts: datetime | None, model: str | None, counts: tuple[int, int, int, int]
    ) -> None:
        fresh, cache_write, cache_read, output = counts
        moment = ts or created
        if moment is None or not (fresh or cache_write or cache_read or output):
            return
        records[f"amp:{thread_id}:{key}"] = Record(
            id=f"amp:{thread_id}:{key}",
            ts=moment,
            model=model or "unknown",
            provider=None,
            input_tokens=fresh,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            cache_write_1h_tokens=0,
            output_tokens=output,
            reasoning_tokens=0,
            session_id=thread_id,
            project=project,
            rank=fresh + cache_write + cache_read + output,
        )

    for index, message in enumerate(thread.messages or []):
        usage = message.usage
        if usage is None:
            continue
        key = str(message.messageId if message.messageId is not None else f"m{index}")
        counts = (
            nonnegative(usage.inputTokens),
            nonnegative(usage.cacheCreationInputTokens),
            nonnegative(usage.cacheReadInputTokens),
            nonnegative(usage.outputTokens),
        )
        add(key, usage.timestamp, usage.model, counts)
    if not records and thread.usageLedger is not None:
        for index, event in enumerate(thread.usageLedger.events or []):
            if event.tokens is None:
                continue
            if event.toMessageId is not None:
                key = str(event.toMessageId)
            else:
                key = f"ledger:{event.id or index}"
            tokens = event.tokens
            counts = (
                nonnegative(tokens.input),
                nonnegative(tokens.cacheCreationInputTokens),
                nonnegative(tokens.cacheReadInputTokens),
                nonnegative(tokens.output),
            )
            add(key, event.timestamp, event.model, counts)
    return list(records.values())


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    data = path.read_bytes()
    try:
        records = parse_thread(data, path.stem)
    except Malformed:
        return FileParse([], len(data), 1, None)
    return FileParse(records, len(data), 0, None)


class Amp(FileSource):
    name = NAME
    title = "Amp"
    shortcut = "amp"  # llmledger daily --amp

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "amp" / "threads"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in self.roots(env):
            accept = lambda name: name.startswith("T-") and name.endswith(".json")  # noqa: E731
            for path in walk_files(root, accept, max_depth=0):
                yield SourceFile(NAME, path, "document")

    parse = staticmethod(parse_file)


SOURCE = Amp()

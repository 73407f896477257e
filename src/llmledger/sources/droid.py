"""Droid (Factory) sessions: ``~/.factory/sessions/<project>/<uuid>.settings.json``, beside the
transcript ``<uuid>.jsonl`` (older installs keep both directly in ``sessions/``).

A settings file holds the session's running totals, rewritten in place:
``tokenUsage {inputTokens, outputTokens, cacheCreationTokens, cacheReadTokens, thinkingTokens}``
(input excludes the cache; thinking is billed as output on top of ``outputTokens``), plus
``model`` and ``providerLock``. So a session is one aggregate event, id ``droid:<uuid>``, that a
later read replaces as the totals grow (``requests = 0``: the file does not count calls). It is
dated at the session's last activity: the file's modification time (``providerLockTimestamp``,
when the provider was chosen, if that is later), kept while the totals stay the same.

Model names are cleaned as Factory writes custom ones (``custom:Claude-Opus-4.5-[Anthropic]-0``
-> ``claude-opus-4.5``); a file without ``model`` takes the ``Model: <name>`` the transcript's
system reminder states. The project is the transcript's ``session_start`` ``cwd``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from llmledger.errors import InvalidEventError
from llmledger.events import parse_timestamp
from llmledger.sources.base import (
    Count,
    FileParse,
    FileSource,
    Record,
    SourceFile,
    home_dir,
    nonnegative,
)
from llmledger.sources.walk import walk_files

NAME = "droid"
SUFFIX = ".settings.json"
# providerLock values that name a provider the price book knows.
PROVIDERS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "x-ai": "xai",
    "xai": "xai",
    "google": "gemini",
    "gemini": "gemini",
}
TRANSCRIPT_HEAD = 256 * 1024  # where a transcript states its model and cwd, if anywhere
_MODEL_IN_TRANSCRIPT = re.compile(rb"Model: ([A-Za-z0-9][A-Za-z0-9._:/-]*)")


class _TokenUsage(msgspec.Struct):
    inputTokens: Count | None = None
    outputTokens: Count | None = None
    cacheCreationTokens: Count | None = None
    cacheReadTokens: Count | None = None
    thinkingTokens: Count | None = None


class _Settings(msgspec.Struct):
    model: str | None = None
    providerLock: str | None = None
    providerLockTimestamp: Any = None  # ISO text; anything else is ignored
    tokenUsage: _TokenUsage | None = None


class _SessionStart(msgspec.Struct):
    type: str | None = None
    cwd: str | None = None


_decode = msgspec.json.Decoder(_Settings).decode
_decode_start = msgspec.json.Decoder(_SessionStart).decode


class Malformed(Exception):
    """A settings file that is not valid Droid session JSON."""


def model_name(raw: str) -> str:
    """Factory's model id as the price book knows it: ``custom:`` names lose the prefix and
    the ``-[Provider]-<n>`` tail."""
    name = raw.strip()
    if name.lower().startswith("custom:"):
        name = name[len("custom:") :]
        name = re.sub(r"-?\[[^\]]*\].*$", "", name)
    name = re.sub(r"-{2,}", "-", name).strip("-")
    return name.lower() or "unknown"


def parse_settings(
    data: bytes,
    session: str,
    modified: datetime,
    transcript_head: bytes = b"",
    carry: dict[str, Any] | None = None,
) -> tuple[Record | None, dict[str, Any] | None]:
    """Pure: a settings file's totals as one aggregate record (None when it has no usage), and
    the carry for the next read: totals that did not change keep the date they had (``carry``
    from the last read), however often the file is rewritten. Raises Malformed."""
    try:
        settings = _decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    usage = settings.tokenUsage
    if usage is None:
        return None, None
    fresh, output = nonnegative(usage.inputTokens), nonnegative(usage.outputTokens)
    cache_read, cache_write = (
        nonnegative(usage.cacheReadTokens),
        nonnegative(usage.cacheCreationTokens),
    )
    thinking = nonnegative(usage.thinkingTokens)
    counts = [fresh, output, cache_read, cache_write, thinking]
    if not any(counts):
        return None, None
    moment = _last_activity(modified, settings.providerLockTimestamp)
    if carry is not None and carry.get("totals") == counts:
        moment = _time(carry.get("ts")) or moment
    model = settings.model
    if not model:
        found = _MODEL_IN_TRANSCRIPT.search(transcript_head)
        model = found.group(1).decode() if found else None
    provider = PROVIDERS.get((settings.providerLock or "").lower())
    record = Record(
        id=f"{NAME}:{session}",
        ts=moment,
        model=model_name(model) if model else "unknown",
        provider=provider,
        input_tokens=fresh,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=0,
        output_tokens=output + thinking,
        reasoning_tokens=thinking,
        session_id=session,
        project=_cwd(transcript_head),
        requests=0,  # the settings file does not count the session's calls
        details={"session_aggregate": True, "requests_unknown": True},
        rank=fresh + cache_read + cache_write + output + thinking,
    )
    return record, {"totals": counts, "ts": moment.isoformat()}


def _time(value: Any) -> datetime | None:
    """An ISO timestamp as an aware UTC datetime; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except (InvalidEventError, OverflowError):  # not a time, or past what UTC can hold
        return None


def _last_activity(modified: datetime, provider_locked: Any) -> datetime:
    """The file's modification time, or when the provider was locked if that is later (a
    copied file whose times were not kept)."""
    locked = _time(provider_locked)
    return max(modified, locked) if locked is not None and locked.year < 9999 else modified


def _cwd(transcript_head: bytes) -> str | None:
    first = transcript_head.split(b"\n", 1)[0]
    if not first.strip():
        return None
    try:
        start = _decode_start(first)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return start.cwd if start.type == "session_start" and start.cwd else None


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(TRANSCRIPT_HEAD)
    except OSError:
        return b""


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    data = path.read_bytes()
    modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    session = path.name[: -len(SUFFIX)]
    head = _head(path.with_name(session + ".jsonl"))
    try:
        record, next_carry = parse_settings(data, session, modified, head, carry)
    except Malformed:  # caught mid-write, say: the next read still knows the session's date
        return FileParse([], len(data), 1, carry)
    return FileParse([] if record is None else [record], len(data), 0, next_carry)


class Droid(FileSource):
    name = NAME
    title = "Droid (Factory)"
    shortcut = "droid"  # llmledger daily --droid

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [home_dir(env) / ".factory" / "sessions"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in self.roots(env):
            accept = lambda name: name.endswith(SUFFIX) and len(name) > len(SUFFIX)  # noqa: E731
            for path in walk_files(root, accept, max_depth=2):
                yield SourceFile(NAME, path, "document")

    parse = staticmethod(parse_file)


SOURCE = Droid()

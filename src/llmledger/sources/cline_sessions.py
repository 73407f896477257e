"""Cline 4.1+ sessions (the SDK-based extension and CLI): ``<sessions>/<id>/<id>.messages.json``,
``<sessions>`` being ``$CLINE_SESSION_DATA_DIR``, else ``<cline data>/sessions``. A
subagent's messages sit beside its root session's as ``<root id>/<file stem>.messages.json``;
``<id>.json`` is the session's manifest (``cwd``, ``model``, ``provider``).

A messages file is rewritten whole: ``{version: 1, updated_at, agent, sessionId, messages}``
(a bare array is read too). Each assistant message with ``metrics`` is one model call, its
usage a delta of the running totals: ``{inputTokens, outputTokens, cacheReadTokens,
cacheWriteTokens, cost}``, where ``inputTokens`` includes cache reads and writes (input =
``inputTokens − cacheReadTokens − cacheWriteTokens``) and output includes the reasoning. Id
``cline:<session>:<message id>``; the model is the message's ``modelInfo.id`` (else the
manifest's), dated at its ``ts``.

Verified against cline/cline @ 21cb8d25 (``sdk/packages/shared/src/llms/messages.ts``
``MessageWithMetadata``, ``sdk/packages/shared/src/storage/paths.ts``
``resolveSessionDataDir``, ``sdk/packages/core/src/services/session-artifacts.ts``,
``sdk/packages/core/src/services/session-data.ts`` ``buildMessagesFilePayload``,
``sdk/packages/agents/src/agent-runtime.ts`` ``usageDelta``,
``apps/vscode/src/sdk/message-translator.ts`` ``normalizeUsageEvent``: input with the cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import Count, FileParse, Record, nonnegative, utc_from_ms
from llmledger.sources.cline_family import PROVIDERS, read_json

SUFFIX = ".messages.json"


class _Metrics(msgspec.Struct):
    inputTokens: Count | None = None
    outputTokens: Count | None = None
    cacheReadTokens: Count | None = None
    cacheWriteTokens: Count | None = None


class _ModelInfo(msgspec.Struct):
    id: str | None = None
    provider: str | None = None


class _Message(msgspec.Struct):
    id: str | None = None
    role: str | None = None
    ts: float | None = None
    modelInfo: _ModelInfo | None = None
    metrics: _Metrics | None = None


class _File(msgspec.Struct):
    sessionId: str | None = None
    messages: list[msgspec.Raw] | None = None


_decode_file = msgspec.json.Decoder(_File).decode
_decode_list = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_message = msgspec.json.Decoder(_Message).decode


class Malformed(Exception):
    """A messages file that is not what the Cline SDK writes."""


def session_calls(
    data: bytes,
    session: str,
    manifest: dict[str, Any] | None,
    name: str = "cline",
) -> tuple[list[Record], int]:
    """Pure: the calls of one messages file and how many messages were malformed. Raises
    Malformed when the file is not one."""
    try:
        if data.lstrip()[:1] == b"[":
            raws, owner = _decode_list(data), None
        else:
            payload = _decode_file(data)
            raws, owner = payload.messages or [], payload.sessionId
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    session = owner or session
    info = manifest or {}
    default_model = info.get("model") if isinstance(info.get("model"), str) else None
    default_provider = info.get("provider") if isinstance(info.get("provider"), str) else None
    cwd = info.get("cwd") if isinstance(info.get("cwd"), str) else None
    records: list[Record] = []
    malformed = 0
    for raw in raws:
        chunk = bytes(raw)
        if b'"metrics"' not in chunk:
            continue
        try:
            message = _decode_message(chunk)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            malformed += 1
            continue
        metrics = message.metrics
        if message.role != "assistant" or metrics is None:
            continue
        if message.ts is None or not 0 < message.ts < 1e14:
            malformed += 1
            continue
        read, write = nonnegative(metrics.cacheReadTokens), nonnegative(metrics.cacheWriteTokens)
        fresh = max(0, nonnegative(metrics.inputTokens) - read - write)
        output = nonnegative(metrics.outputTokens)
        if not (fresh or output or read or write):
            continue
        model_info = message.modelInfo
        model = (model_info.id if model_info else None) or default_model or "unknown"
        provider = (model_info.provider if model_info else None) or default_provider or ""
        ts_ms = int(message.ts)
        key = message.id or str(ts_ms)
        records.append(
            Record(
                id=f"{name}:{session}:{key}",
                ts=utc_from_ms(ts_ms),
                model=model,
                provider=PROVIDERS.get(provider.lower()),
                input_tokens=fresh,
                cache_read_tokens=read,
                cache_write_tokens=write,
                cache_write_1h_tokens=0,
                output_tokens=output,
                reasoning_tokens=0,
                session_id=session,
                project=cwd,
                rank=fresh + read + write + output,
            )
        )
    return records, malformed


def parse_session_file(path: Path, name: str = "cline") -> FileParse:
    """One messages file (the manifest beside it names the model and the project)."""
    data = path.read_bytes()
    root = path.parent.name
    manifest = read_json(path.parent / f"{root}.json")
    try:
        records, malformed = session_calls(
            data, root, manifest if isinstance(manifest, dict) else None, name
        )
    except Malformed:
        return FileParse([], len(data), 1, None)
    return FileParse(records, len(data), malformed, None)

"""OpenAI Codex CLI rollouts: ``${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-*.jsonl``
and ``archived_sessions/`` (a copy in ``sessions/`` wins over its archived twin).

Usage comes from ``event_msg`` lines of type ``token_count``: ``last_token_usage`` is the call,
``total_token_usage`` the running session total. Codex re-emits events: one whose total equals
the previous total in the file is skipped. An event's id is its time and running total.
The counts are the Responses API usage under Codex's names, mapped by
``usage.openai.responses_tokens``: ``cached_input_tokens`` is part of ``input_tokens`` and
``reasoning_output_tokens`` part of ``output_tokens``. The model is the last
``turn_context.model`` seen. A compaction request's usage (Codex 0.154+) is in no
``token_count``: it is read from the ``compacted`` item's ``latest_token_usage_record`` whose
``response_id`` is the ``compaction_response_id``.

Forks and subagents (notes/agent-logs.md, "Forks and subagents"): the child's own
``session_meta`` comes first, then a copy of the parent's ``session_meta`` and the parent's
history re-written with new timestamps. That copy is history, not usage: from the copied
``session_meta`` on, ``token_count`` events only move the baseline, until the child's own first
turn. A turn is the child's own when its ``task_started`` says it started at or after the
child's creation (a copied one keeps the parent's ``started_at``); rollouts that write no
``started_at`` fall back to the first ``token_count`` that comes at least ``OWN_TURN_GAP`` after
the line before it (a copy is written in one burst, a call takes a model round trip). All of the
child's usage is filed under the child's id, whatever the copied ``session_meta`` says.

Official limit windows: a ``token_count`` event's ``rate_limits`` (also on events whose
``info`` is null) is read apart from its usage (``rate_windows``: every shape Codex has
written) and kept in the carried state, per window, as the first reading of its current period
and the latest one (``state["windows"]``); ``llmledger quota`` files them in the ledger. A
copied parent history's readings are not kept: their timestamps are the copy's.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from llmledger.rate_windows import RateWindow
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
from llmledger.usage.openai import (
    InputTokensDetails,
    OutputTokensDetails,
    ResponsesUsage,
    responses_tokens,
)

NAME = "codex"
PROVIDER = "openai"
# Rollouts older than ``turn_context`` records do not name their model (notes/agent-logs.md).
FALLBACK_MODEL = "gpt-5"
# Without ``started_at``: a gap this long before a ``token_count`` ends a copied history.
OWN_TURN_GAP_US = 500_000


class _Line(msgspec.Struct):
    timestamp: datetime | None = None
    type: str | None = None
    payload: msgspec.Raw = msgspec.Raw(b"null")


class _Meta(msgspec.Struct):
    id: str | None = None
    timestamp: datetime | None = None
    cwd: str | None = None
    model_provider: str | None = None


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


class _UsageRecord(msgspec.Struct):
    """A ``token_usage_record``: one completed response's usage."""

    response_id: str | None = None
    usage: _Tokens | None = None


class _Compacted(msgspec.Struct):
    compaction_response_id: str | None = None
    latest_token_usage_record: _UsageRecord | None = None


class _Event(msgspec.Struct):
    type: str | None = None
    info: _Info | None = None
    started_at: float | None = None  # on task_started: unix seconds (milliseconds in some)
    rate_limits: msgspec.Raw = msgspec.Raw(b"null")  # read apart: never costs the usage


class _Window(msgspec.Struct):
    """One window of ``rate_limits`` (0.41+): ``resets_in_seconds`` until 0.45, then
    ``resets_at`` (unix seconds)."""

    used_percent: float | None = None
    window_minutes: int | None = None
    resets_in_seconds: float | None = None
    resets_at: float | None = None


class _RateLimits(msgspec.Struct):
    """``rate_limits`` of a ``token_count`` event, every shape Codex has written: flat fields
    (0.39-0.40: ``primary_used_percent``, ``primary_window_minutes``, …, some builds with
    ``*_reset_after_seconds``), then ``primary``/``secondary`` windows (0.41+), later with
    ``limit_id``, ``limit_name``, ``credits`` and ``plan_type``."""

    primary: _Window | None = None
    secondary: _Window | None = None
    limit_id: str | None = None
    plan_type: str | None = None
    primary_used_percent: float | None = None
    secondary_used_percent: float | None = None
    primary_window_minutes: int | None = None
    secondary_window_minutes: int | None = None
    primary_reset_after_seconds: float | None = None
    secondary_reset_after_seconds: float | None = None


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_meta = msgspec.json.Decoder(_Meta).decode
_decode_turn = msgspec.json.Decoder(_TurnContext).decode
_decode_compacted = msgspec.json.Decoder(_Compacted).decode
_decode_event = msgspec.json.Decoder(_Event).decode
_decode_limits = msgspec.json.Decoder(_RateLimits).decode
_NULL = msgspec.Raw(b"null")
MARKERS = marker_pattern(
    b'"token_count"',
    b'"turn_context"',
    b'"session_meta"',
    b'"task_started"',
    b'"turn_started"',
    b'"compaction_response_id"',
)
_TURN_STARTS = ("task_started", "turn_started")
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
        "own": False,  # the file's own session_meta has been read
        "started": None,  # when this session was created, unix seconds
        "inheriting": False,  # inside a copied parent history
        "last_us": None,  # time of the previous line read while inheriting
        "dated_turns": False,  # a task_started with started_at was seen
    }


def _apply_meta(meta: _Meta, line_ts: datetime | None, state: dict[str, Any]) -> None:
    """The first ``session_meta`` is the file's own; one with another id is a parent's copy."""
    if not state.get("own", True):
        state["own"] = True
        state["session"] = meta.id or state["session"]
        state["cwd"] = meta.cwd or state["cwd"]
        state["provider"] = meta.model_provider or state["provider"]
        created = meta.timestamp or line_ts
        state["started"] = int(created.timestamp()) if created is not None else None
    elif meta.id and meta.id != state["session"]:
        state["inheriting"] = True
        state["last_us"] = _us(line_ts) if line_ts is not None else None


def _ends_inheritance(event: _Event, line_us: int | None, state: dict[str, Any]) -> bool:
    """Whether this event, read inside a copied history, begins the child's own turns."""
    if event.type in _TURN_STARTS:
        if event.started_at is None or state.get("started") is None:
            return False
        state["dated_turns"] = True  # this rollout dates its turns: no need to guess by time
        started = event.started_at / 1000 if event.started_at > 10**11 else event.started_at
        return bool(started >= state["started"])
    if event.type != "token_count" or line_us is None or state.get("dated_turns"):
        return False
    last = state.get("last_us")
    return last is not None and line_us - last >= OWN_TURN_GAP_US


def apply_line(line: bytes, state: dict[str, Any]) -> Record | None:
    """Pure but for ``state`` (the rollout so far, updated in place): one line's record."""
    try:
        parsed = _decode_line(line)
        kind = parsed.type
        if parsed.payload == _NULL:
            return None
        if kind == "session_meta":
            _apply_meta(_decode_meta(parsed.payload), parsed.timestamp, state)
            return None
        if kind == "turn_context":
            turn = _decode_turn(parsed.payload)
            state["model"] = turn.model or state["model"]
            state["cwd"] = state["cwd"] or turn.cwd
            return None
        if kind == "compacted":
            if state.get("inheriting") or parsed.timestamp is None:
                return None  # a copied parent's compaction was counted in the parent
            return _compaction(parsed.timestamp, _decode_compacted(parsed.payload), state)
        if kind != "event_msg":
            return None
        event = _decode_event(parsed.payload)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    if state.get("inheriting"):
        line_us = _us(parsed.timestamp) if parsed.timestamp is not None else None
        if not _ends_inheritance(event, line_us, state):
            state["last_us"] = line_us if line_us is not None else state.get("last_us")
            if event.type == "token_count" and event.info is not None:
                _inherit(event.info, state)
            return None
        state["inheriting"] = False
    if event.type != "token_count" or parsed.timestamp is None:
        return None
    if event.rate_limits != _NULL:
        _keep_windows(rate_windows(event.rate_limits, parsed.timestamp, state["session"]), state)
    if event.info is None:
        return None  # a rate-limit-only event
    return _record(parsed.timestamp, event.info, state)


def _reset_us(observed_us: int, at: float | None, after: float | None) -> int | None:
    """A window's reset time: ``resets_at`` (unix seconds; milliseconds in some builds), else
    the event's time plus ``resets_in_seconds``."""
    if at is not None and math.isfinite(at) and at > 0:
        return int(at * 1000) if at > 10**11 else int(at * 1_000_000)
    if after is not None and math.isfinite(after) and after >= 0:
        return observed_us + int(after * 1_000_000)
    return None


def rate_windows(raw: bytes, ts: datetime, session: str | None) -> list[RateWindow]:
    """Pure: the official windows in one ``token_count`` event's ``rate_limits`` (none when it
    is absent or of a shape no Codex version wrote)."""
    try:
        limits = _decode_limits(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return []
    observed = _us(ts)
    found: list[tuple[str, float, int | None, int | None]] = []
    for name, window in (("primary", limits.primary), ("secondary", limits.secondary)):
        if window is not None and window.used_percent is not None:
            reset = _reset_us(observed, window.resets_at, window.resets_in_seconds)
            found.append((name, window.used_percent, window.window_minutes, reset))
    if not found:  # the flat shape of 0.39-0.40
        flat = (
            ("primary", limits.primary_used_percent, limits.primary_window_minutes,
             limits.primary_reset_after_seconds),
            ("secondary", limits.secondary_used_percent, limits.secondary_window_minutes,
             limits.secondary_reset_after_seconds),
        )  # fmt: skip
        for name, used, minutes, after in flat:
            if used is not None:
                found.append((name, used, minutes, _reset_us(observed, None, after)))
    return [
        RateWindow(
            source=NAME,
            window=name,
            observed_us=observed,
            used_percent=used,
            window_minutes=minutes if minutes is not None and minutes > 0 else None,
            resets_at_us=reset,
            limit_id=limits.limit_id or "",
            plan=limits.plan_type,
            session_id=session,
        )
        for name, used, minutes, reset in found
        if math.isfinite(used) and used >= 0
    ]


def _keep_windows(readings: list[RateWindow], state: dict[str, Any]) -> None:
    """Remember, per window, the first reading of its current period and the latest one (the
    two a pace forecast needs) in the carried state: ``state["windows"]``."""
    if not readings:
        return
    kept: dict[str, list[dict[str, Any]]] = dict(state.get("windows") or {})
    for reading in readings:
        key = f"{reading.limit_id}/{reading.window}"
        # Its fields are plain values: msgspec's asdict is a shallow copy (dataclasses' deep-
        # copies each one: ~20 us a reading, a reading per Codex usage line).
        row = msgspec.structs.asdict(reading)
        seen = kept.get(key)
        if seen is None or new_period(seen[-1], row):
            kept[key] = [row, row]
        else:
            kept[key] = [seen[0], row]
    state["windows"] = kept


def new_period(last: Mapping[str, Any], reading: Mapping[str, Any]) -> bool:
    """Whether ``reading`` belongs to a later period of its window than ``last``: the window
    was reset (the use fell) or its reset time moved by more than a few minutes."""
    if reading["used_percent"] < last["used_percent"] - 0.5:
        return True
    before, after = last.get("resets_at_us"), reading.get("resets_at_us")
    return before is not None and after is not None and abs(after - before) > 300_000_000


def _inherit(info: _Info, state: dict[str, Any]) -> None:
    """A copied parent event: its running total becomes the baseline, nothing is counted."""
    if info.total_token_usage is not None:
        state["prev"] = info.total_token_usage.values()


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
    key = total if total is not None else last
    return _call(f"codex:{_us(ts)}:{key[0]}:{key[1]}:{key[2]}:{key[3]}", ts, last, state)


def _compaction(ts: datetime, compacted: _Compacted, state: dict[str, Any]) -> Record | None:
    """The usage of a compaction request, which no ``token_count`` reflects (Codex 0.154+):
    the ``compacted`` item's ``latest_token_usage_record`` when it is that request's."""
    usage = compacted.latest_token_usage_record
    response = compacted.compaction_response_id
    if usage is None or usage.usage is None or not response or usage.response_id != response:
        return None
    return _call(f"codex:response:{response}", ts, usage.usage.values(), state, compaction=True)


def _call(
    record_id: str, ts: datetime, last: list[int], state: dict[str, Any], compaction: bool = False
) -> Record | None:
    """One call's record from its five counters (input, cached, output, reasoning, total),
    mapped like the Responses API usage they copy (``usage.openai.responses_tokens``)."""
    all_input, cached, output, reasoning, _ = last
    if not (all_input or output):
        return None
    counts = responses_tokens(
        ResponsesUsage(
            input_tokens=all_input,
            output_tokens=output,
            input_tokens_details=InputTokensDetails(cached_tokens=cached),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning),
        )
    )
    details: dict[str, Any] | None = counts.details
    if compaction:
        details = {**(details or {}), "compaction": True}
    model = state["model"]
    if model is None:
        model = FALLBACK_MODEL
        details = {**(details or {}), "model_fallback": True}
    provider = state["provider"]
    if provider and provider != PROVIDER:
        details = {**(details or {}), "model_provider": provider}
    return Record(
        id=record_id,
        ts=ts,
        model=model,
        provider=PROVIDER,
        input_tokens=counts.input_tokens,
        cache_read_tokens=counts.cache_read_tokens,
        cache_write_tokens=counts.cache_write_tokens,
        cache_write_1h_tokens=counts.cache_write_1h_tokens,
        output_tokens=counts.output_tokens,
        reasoning_tokens=counts.reasoning_tokens,
        session_id=state["session"],
        project=state["cwd"],
        details=details,
        rank=counts.total_tokens,
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
    shortcut = "codex"  # llmledger daily --codex

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

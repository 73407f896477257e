"""Write a realistic fake HOME of coding-agent logs, and the exact totals a correct reader gets.

    python benchmarks/agent_corpus.py OUT_DIR [--claude-files 1000] [--claude-messages 100000]

writes ``OUT_DIR/home`` (Claude Code, Codex CLI, Gemini CLI and OpenCode logs laid out where the
agents write them) and ``OUT_DIR/expected.json``: per source, per day (UTC and
America/New_York), per model, the tokens and the number of billable calls. The totals come
from the generator's own list of the API calls it made up, never from parsing what it wrote.

Every case from notes/agent-logs.md is in it: Claude streaming copies with a growing
``output_tokens`` (and one truncated copy: a malformed line), resumed sessions replaying
earlier calls, sidechain replays, subagent files (both layouts), ``progress`` lines carrying
subagent calls, empty and missing request ids, ``<synthetic>`` lines, 1-hour cache writes,
``~/.config/claude``; Codex re-emitted token counts, ``info: null``, model switches, forks
replaying their parent, archived twins, a rollout without ``turn_context``; Gemini legacy
``.json``, ``.jsonl`` with re-appended records, ``$set`` and ``$rewindTo``, subagent chats and a
migrated ``.json``/``.jsonl`` pair; OpenCode's database, a channel database and legacy message
files overlapping the database. Sessions cluster around midnight (UTC and New York), and user
lines carry long tool results (a few hundred KB now and then).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import string
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

UTC = timezone.utc
ZONES = ("UTC", "America/New_York")
_encode = msgspec.json.Encoder().encode

CLAUDE_MODELS = (
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-6",
)
CODEX_MODELS = ("gpt-5-codex", "gpt-5.1-codex", "gpt-5.3-codex")
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview")
OPENCODE_MODELS = (
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "gpt-5"),
    ("google", "gemini-2.5-pro"),
)


@dataclass
class Spec:
    claude_files: int = 1000  # session transcripts (subagent files come on top)
    claude_messages: int = 100_000  # unique API calls in the main transcripts
    codex_files: int = 60
    gemini_files: int = 30
    opencode_messages: int = 3000
    seed: int = 20250601
    start: str = "2025-10-01"
    days: int = 45
    long_line_every: int = 400  # one ~100-300 KB tool result per this many user lines


@dataclass
class Call:
    source: str
    model: str
    ts: datetime
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0  # 5-minute
    cache_write_1h: int = 0
    reasoning: int = 0


@dataclass
class Truth:
    calls: list[Call] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    files: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, call: Call) -> None:
        self.calls.append(call)

    def expected(self, zone: tzinfo = UTC) -> dict[str, Any]:
        """source -> day -> model -> totals, and per-day and all-days sums."""
        sources: dict[str, Any] = {}
        for call in self.calls:
            day = call.ts.astimezone(zone).date().isoformat()
            src = sources.setdefault(call.source, {"days": {}, "all_days": _zero()})
            per_day = src["days"].setdefault(day, {"models": {}, "totals": _zero()})
            for bucket in (
                per_day["models"].setdefault(call.model, _zero()),
                per_day["totals"],
                src["all_days"],
            ):
                _add(bucket, call)
        for src in sources.values():
            src["days"] = dict(sorted(src["days"].items()))
            for per_day in src["days"].values():
                per_day["models"] = dict(sorted(per_day["models"].items()))
        return dict(sorted(sources.items()))


def _zero() -> dict[str, int]:
    return dict.fromkeys(
        (
            "input",
            "output",
            "cache_read",
            "cache_write",
            "cache_write_1h",
            "reasoning",
            "messages",
            "total",
        ),
        0,
    )


def _add(bucket: dict[str, int], call: Call) -> None:
    cache_write = call.cache_write + call.cache_write_1h
    bucket["input"] += call.input
    bucket["output"] += call.output
    bucket["cache_read"] += call.cache_read
    bucket["cache_write"] += cache_write
    bucket["cache_write_1h"] += call.cache_write_1h
    bucket["reasoning"] += call.reasoning
    bucket["messages"] += 1
    bucket["total"] += call.input + call.output + call.cache_read + cache_write


class Text:
    """Cheap filler text: slices of one random word soup."""

    def __init__(self, rng: random.Random) -> None:
        words = [
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(4000)
        ]
        self.soup = " ".join(rng.choices(words, k=400_000))
        self.rng = rng

    def __call__(self, low: int, high: int) -> str:
        size = self.rng.randint(low, high)
        if size >= len(self.soup):
            return (self.soup * (size // len(self.soup) + 1))[:size]
        start = self.rng.randrange(0, len(self.soup) - size)
        return self.soup[start : start + size]


class Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.alphabet = string.ascii_letters + string.digits

    def token(self, n: int) -> str:
        return "".join(self.rng.choices(self.alphabet, k=n))

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def session_start(rng: random.Random, first: date, days: int) -> datetime:
    """Start times crowd around UTC midnight and New York midnight (04:00/05:00 UTC)."""
    day = datetime.combine(first + timedelta(days=rng.randrange(days)), datetime.min.time(), UTC)
    kind = rng.random()
    if kind < 0.3:
        offset = timedelta(hours=23, minutes=rng.randrange(0, 60))
    elif kind < 0.5:
        offset = timedelta(hours=rng.choice((3, 4)), minutes=rng.randrange(30, 60))
    else:
        offset = timedelta(seconds=rng.randrange(0, 86400))
    return day + offset + timedelta(milliseconds=rng.randrange(1000))


def _write_jsonl(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"\n".join(lines) + b"\n")


# -- Claude Code -----------------------------------------------------------------------------


@dataclass
class ClaudeLine:
    """An assistant line's call, kept to replay it elsewhere (resumed sessions, sidechains)."""

    message_id: str
    request_id: str | None
    model: str
    ts: datetime
    usage: dict[str, Any]


class ClaudeWriter:
    def __init__(self, home: Path, spec: Spec, rng: random.Random, truth: Truth) -> None:
        self.home, self.spec, self.rng, self.truth = home, spec, rng, truth
        self.text = Text(rng)
        self.ids = Ids(rng)
        self.user_lines = 0
        self.history: list[tuple[str, list[ClaudeLine]]] = []  # (session, calls) to resume from

    def _base(self, session: str, cwd: str, ts: datetime, sidechain: bool) -> dict[str, Any]:
        return {
            "parentUuid": self.ids.uuid(),
            "isSidechain": sidechain,
            "userType": "external",
            "cwd": cwd,
            "sessionId": session,
            "version": "2.0.31",
            "gitBranch": "main",
            "uuid": self.ids.uuid(),
            "timestamp": iso(ts),
        }

    def user_line(self, session: str, cwd: str, ts: datetime, sidechain: bool) -> bytes:
        self.user_lines += 1
        if self.user_lines % self.spec.long_line_every == 0:
            content = self.text(100_000, 300_000)
        else:
            content = self.text(200, 5000)
        line = self._base(session, cwd, ts, sidechain)
        line["type"] = "user"
        line["message"] = {
            "role": "user",
            "content": [
                {
                    "tool_use_id": "toolu_" + self.ids.token(24),
                    "type": "tool_result",
                    "content": content,
                }
            ],
        }
        if self.rng.random() < 0.02:  # a Task result: usage of a subagent, not a billable call
            line["toolUseResult"] = {"usage": {"input_tokens": 10, "output_tokens": 999}}
        return _encode(line)

    def assistant_line(
        self,
        session: str,
        cwd: str,
        call: ClaudeLine,
        output: int,
        final: bool,
        sidechain: bool,
        ts: datetime,
    ) -> bytes:
        usage = dict(call.usage)
        usage["output_tokens"] = output
        line = self._base(session, cwd, ts, sidechain)
        line["message"] = {
            "id": call.message_id,
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": [{"type": "text", "text": self.text(40, 1500)}],
            "stop_reason": "end_turn" if final else None,
            "stop_sequence": None,
            "usage": usage,
        }
        if call.request_id is not None:
            line["requestId"] = call.request_id
        line["type"] = "assistant"
        return _encode(line)

    def new_call(self, model: str, ts: datetime, style: str, one_hour: bool) -> ClaudeLine:
        rng = self.rng
        cache_write = rng.choice((0, 0, rng.randint(100, 30_000)))
        one_h = rng.randint(0, cache_write) if one_hour and cache_write else 0
        usage: dict[str, Any] = {
            "input_tokens": rng.randint(1, 60),
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": rng.randint(5_000, 160_000),
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache_write - one_h,
                "ephemeral_1h_input_tokens": one_h,
            },
            "output_tokens": 0,
            "service_tier": "standard",
        }
        if style == "bedrock":
            return ClaudeLine("msg_bdrk_" + self.ids.token(24), None, model, ts, usage)
        request = "" if style == "empty" else "req_011C" + self.ids.token(20)
        return ClaudeLine("msg_01" + self.ids.token(22), request, model, ts, usage)

    def record(self, call: ClaudeLine, output: int, ts: datetime) -> None:
        u = call.usage
        one_h = u["cache_creation"]["ephemeral_1h_input_tokens"]
        self.truth.add(
            Call(
                "claude-code",
                call.model,
                ts,
                u["input_tokens"],
                output,
                u["cache_read_input_tokens"],
                u["cache_creation_input_tokens"] - one_h,
                one_h,
            )
        )

    def emit_call(
        self,
        lines: list[bytes],
        session: str,
        cwd: str,
        call: ClaudeLine,
        sidechain: bool,
        truncate_first: bool = False,
    ) -> None:
        """The streaming copies of one call; the truth is the last (largest) copy."""
        rng = self.rng
        copies = rng.choices((1, 2, 3, 4), weights=(40, 35, 15, 10))[0]
        final_output = rng.randint(20, 3000)
        ts = call.ts
        for n in range(copies):
            final = n == copies - 1
            output = final_output if final else rng.randint(1, 9)
            line = self.assistant_line(session, cwd, call, output, final, sidechain, ts)
            if truncate_first and n == 0 and not final:
                line = line[: line.find(b'"usage"') + 24]  # cut inside the usage object
                self.truth.malformed["claude-code"] += 1
            lines.append(line)
            if final:
                self.record(call, output, ts)
                call.usage = {**call.usage, "output_tokens": output}
                call.ts = ts
            else:
                ts += timedelta(milliseconds=rng.randint(50, 900))

    def write(self) -> None:
        spec, rng = self.spec, self.rng
        weights = [rng.paretovariate(1.6) for _ in range(spec.claude_files)]
        scale = spec.claude_messages / sum(weights)
        counts = [max(1, int(w * scale)) for w in weights]
        counts[0] += spec.claude_messages - sum(counts)
        while counts[0] < 1:  # rounding took too much from the first: spread the debt
            i = rng.randrange(1, len(counts))
            if counts[i] > 1:
                counts[i] -= 1
                counts[0] += 1
        first = date.fromisoformat(spec.start)
        projects = [f"/Users/dev/code/project-{n}" for n in range(40)]
        for index, count in enumerate(counts):
            cwd = rng.choice(projects)
            config = ".config/claude" if index % 10 == 3 else ".claude"
            root = self.home / config / "projects" / cwd.replace("/", "-")
            self.session(root, cwd, count, session_start(rng, first, spec.days), index)

    def session(self, root: Path, cwd: str, count: int, start: datetime, index: int) -> None:
        rng = self.rng
        session = self.ids.uuid()
        style = "bedrock" if index % 50 == 7 else "empty" if index % 50 == 8 else "normal"
        one_hour = index % 5 == 1
        main_model = CLAUDE_MODELS[index % len(CLAUDE_MODELS)]
        lines: list[bytes] = []
        if self.history and index % 20 == 5:  # a resumed session replays earlier calls
            _old_session, old_calls = rng.choice(self.history)
            for call in old_calls[-rng.randint(3, 12) :]:
                lines.append(self.user_line(session, cwd, call.ts - timedelta(seconds=2), False))
                lines.append(
                    self.assistant_line(
                        session, cwd, call, call.usage["output_tokens"], True, False, call.ts
                    )
                )
        if index % 100 == 11:  # an API error notice: no usage
            notice = ClaudeLine(
                "msg_" + self.ids.token(22),
                None,
                "<synthetic>",
                start,
                {
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            )
            lines.append(self.assistant_line(session, cwd, notice, 0, True, False, start))
        ts = start
        calls: list[ClaudeLine] = []
        for n in range(count):
            ts += timedelta(seconds=rng.randint(4, 120), milliseconds=rng.randrange(1000))
            lines.append(self.user_line(session, cwd, ts, False))
            ts += timedelta(seconds=rng.randint(1, 20))
            model = main_model if rng.random() > 0.15 else "claude-haiku-4-5-20251001"
            call = self.new_call(model, ts, style, one_hour)
            self.emit_call(
                lines, session, cwd, call, False, truncate_first=(index % 200 == 13 and n == 0)
            )
            ts = call.ts
            calls.append(call)
        if index % 33 == 2:  # subagent calls reported only inside progress lines
            for _ in range(rng.randint(1, 4)):
                ts += timedelta(seconds=rng.randint(2, 30))
                lines.append(self.progress_line(session, cwd, ts, rng.choice(CLAUDE_MODELS)))
        _write_jsonl(root / f"{session}.jsonl", lines)
        self.truth.files["claude-code"] += 1
        self.history.append((session, calls))
        if len(self.history) > 50:
            self.history.pop(0)
        if index % 10 == 4:
            self.subagent(root, session, cwd, calls, ts, layout="new" if index % 20 == 4 else "old")

    def progress_line(self, session: str, cwd: str, ts: datetime, model: str) -> bytes:
        call = self.new_call(model, ts, "normal", False)
        output = self.rng.randint(20, 800)
        call.usage["output_tokens"] = output
        self.record(call, output, ts)
        nested = {
            "type": "assistant",
            "timestamp": iso(ts),
            "requestId": call.request_id,
            "message": {
                "id": call.message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": self.text(20, 300)}],
                "stop_reason": "tool_use",
                "usage": call.usage,
            },
            "uuid": self.ids.uuid(),
        }
        line = self._base(session, cwd, ts, False)
        line["type"] = "progress"
        line["data"] = {"type": "agent_progress", "message": nested, "prompt": "subtask"}
        return _encode(line)

    def subagent(
        self,
        root: Path,
        session: str,
        cwd: str,
        parent: list[ClaudeLine],
        ts: datetime,
        layout: str,
    ) -> None:
        rng = self.rng
        agent = "agent-" + self.ids.token(8).lower()
        lines: list[bytes] = []
        replay = rng.choice(parent)  # a sidechain replay of a parent call: counted once
        lines.append(
            self.assistant_line(
                session, cwd, replay, replay.usage["output_tokens"], True, True, replay.ts
            )
        )
        for _ in range(rng.randint(3, 40)):
            ts += timedelta(seconds=rng.randint(2, 40))
            lines.append(self.user_line(session, cwd, ts, True))
            call = self.new_call("claude-haiku-4-5-20251001", ts, "normal", False)
            self.emit_call(lines, session, cwd, call, True)
            ts = call.ts
        path = (
            root / session / "subagents" / f"{agent}.jsonl"
            if layout == "new"
            else (root / f"{agent}.jsonl")
        )
        _write_jsonl(path, lines)
        self.truth.files["claude-code"] += 1


# -- Codex -----------------------------------------------------------------------------------


class CodexWriter:
    def __init__(self, home: Path, spec: Spec, rng: random.Random, truth: Truth) -> None:
        self.home, self.spec, self.rng, self.truth = home, spec, rng, truth
        self.text = Text(rng)
        self.ids = Ids(rng)

    def line(self, ts: datetime, kind: str, payload: dict[str, Any]) -> bytes:
        return _encode({"timestamp": iso(ts), "type": kind, "payload": payload})

    def token_count(self, ts: datetime, total: list[int], last: list[int] | None) -> bytes:
        def usage(v: list[int]) -> dict[str, int]:
            return {
                "input_tokens": v[0],
                "cached_input_tokens": v[1],
                "output_tokens": v[2],
                "reasoning_output_tokens": v[3],
                "total_tokens": v[0] + v[2],
            }

        info = (
            None
            if last is None
            else {
                "total_token_usage": usage(total),
                "last_token_usage": usage(last),
                "model_context_window": 258400,
            }
        )
        return self.line(
            ts,
            "event_msg",
            {
                "type": "token_count",
                "info": info,
                "rate_limits": {"primary": {"used_percent": 3.0}},
            },
        )

    def rollout(
        self,
        ts: datetime,
        session: str,
        cwd: str,
        turns: int,
        model: str | None,
        prefix: list[bytes] | None = None,
        total: list[int] | None = None,
        forked_from: str | None = None,
        record: bool = True,
    ) -> tuple[list[bytes], list[int], datetime]:
        rng = self.rng
        meta = {
            "id": session,
            "timestamp": iso(ts),
            "cwd": cwd,
            "originator": "codex_cli_rs",
            "cli_version": "0.46.0",
            "model_provider": "openai",
            "base_instructions": {"text": self.text(4000, 12000)},
        }
        if forked_from:
            meta["forked_from_id"] = forked_from
        lines = [self.line(ts, "session_meta", meta)]
        lines += prefix or []
        total = list(total or [0, 0, 0, 0])
        current = model
        if model is not None:
            lines.append(
                self.line(
                    ts,
                    "turn_context",
                    {"cwd": cwd, "model": model, "approval_policy": "on-request"},
                )
            )
        lines.append(self.token_count(ts, total, None))
        for n in range(turns):
            ts += timedelta(seconds=rng.randint(5, 200), milliseconds=rng.randrange(1000))
            if model is not None and n and rng.random() < 0.04:
                current = rng.choice(CODEX_MODELS)
                lines.append(self.line(ts, "turn_context", {"cwd": cwd, "model": current}))
            lines.append(
                self.line(
                    ts,
                    "response_item",
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": self.text(50, 2000)}],
                    },
                )
            )
            lines.append(
                self.line(
                    ts,
                    "response_item",
                    {
                        "type": "function_call_output",
                        "call_id": "call_" + self.ids.token(20),
                        "output": self.text(200, 20000),
                    },
                )
            )
            all_input = rng.randint(2_000, 120_000)
            cached = rng.randint(0, all_input)
            output = rng.randint(10, 4000)
            reasoning = rng.randint(0, output)
            last = [all_input, cached, output, reasoning]
            total = [a + b for a, b in zip(total, last)]
            ts += timedelta(seconds=rng.randint(1, 30), milliseconds=rng.randrange(1000))
            lines.append(self.token_count(ts, total, last))
            if record:
                self.truth.add(
                    Call(
                        "codex",
                        current or "gpt-5",
                        ts,
                        all_input - cached,
                        output,
                        cached,
                        reasoning=reasoning,
                    )
                )
            if rng.random() < 0.5:  # Codex re-emits the same count
                lines.append(
                    self.token_count(ts + timedelta(milliseconds=rng.randint(1, 400)), total, last)
                )
            if rng.random() < 0.1:
                lines.append(self.token_count(ts, total, None))
        return lines, total, ts

    def write(self) -> None:
        spec, rng = self.spec, self.rng
        first = date.fromisoformat(spec.start)
        written: list[tuple[Path, str, list[bytes], list[int], datetime, str]] = []
        for index in range(spec.codex_files):
            start = session_start(rng, first, spec.days)
            session = self.ids.uuid()
            cwd = f"/home/dev/work/repo-{index % 12}"
            model: str | None = CODEX_MODELS[index % len(CODEX_MODELS)]
            if index == 5:
                model = None  # an early rollout without turn_context: the fallback model
            lines, total, end = self.rollout(start, session, cwd, rng.randint(5, 120), model)
            name = f"rollout-{start:%Y-%m-%dT%H-%M-%S}-{session}.jsonl"
            folder = "archived_sessions" if index % 25 == 9 else f"sessions/{start:%Y/%m/%d}"
            path = self.home / ".codex" / folder / name
            _write_jsonl(path, lines)
            self.truth.files["codex"] += 1
            written.append((path, session, lines, total, end, cwd))
            if index % 25 == 10:  # an archived twin of a live rollout: the live copy wins
                _write_jsonl(self.home / ".codex" / "archived_sessions" / name, lines)
        for _parent_path, parent, lines, total, end, cwd in written[1::12]:
            # A fork replays its parent's history (same timestamps and totals), then goes on.
            session = self.ids.uuid()
            start = end + timedelta(minutes=rng.randint(1, 90))
            replay = [ln for ln in lines[1:]]
            fork, _, _ = self.rollout(
                start,
                session,
                cwd,
                rng.randint(3, 30),
                rng.choice(CODEX_MODELS),
                prefix=replay,
                total=total,
                forked_from=parent,
            )
            name = f"rollout-{start:%Y-%m-%dT%H-%M-%S}-{session}.jsonl"
            _write_jsonl(self.home / ".codex" / "sessions" / f"{start:%Y/%m/%d}" / name, fork)
            self.truth.files["codex"] += 1


# -- Gemini CLI ------------------------------------------------------------------------------


class GeminiWriter:
    def __init__(self, home: Path, spec: Spec, rng: random.Random, truth: Truth) -> None:
        self.home, self.spec, self.rng, self.truth = home, spec, rng, truth
        self.text = Text(rng)
        self.ids = Ids(rng)

    def message(self, ts: datetime, model: str, record: bool = True) -> dict[str, Any]:
        rng = self.rng
        all_input = rng.randint(500, 90_000)
        cached = rng.choice((0, rng.randint(0, all_input)))
        output = rng.randint(5, 3000)
        thoughts = rng.choice((0, rng.randint(10, 2000)))
        if record:
            self.truth.add(
                Call(
                    "gemini-cli",
                    model,
                    ts,
                    all_input - cached,
                    output + thoughts,
                    cached,
                    reasoning=thoughts,
                )
            )
        return {
            "id": self.ids.uuid(),
            "timestamp": iso(ts),
            "type": "gemini",
            "content": self.text(50, 3000),
            "thoughts": [],
            "model": model,
            "tokens": {
                "input": all_input,
                "output": output,
                "cached": cached,
                "thoughts": thoughts,
                "tool": 0,
                "total": all_input + output + thoughts,
            },
        }

    def conversation(self, start: datetime, turns: int, model: str) -> list[dict[str, Any]]:
        ts, messages = start, []
        for _ in range(turns):
            ts += timedelta(seconds=self.rng.randint(5, 300), milliseconds=self.rng.randrange(999))
            messages.append(
                {
                    "id": self.ids.uuid(),
                    "timestamp": iso(ts),
                    "type": "user",
                    "content": self.text(20, 800),
                }
            )
            ts += timedelta(seconds=self.rng.randint(1, 40))
            messages.append(self.message(ts, model))
        return messages

    def write(self) -> None:
        spec, rng = self.spec, self.rng
        first = date.fromisoformat(spec.start)
        for index in range(spec.gemini_files):
            project = f"{rng.getrandbits(256):064x}"
            chats = self.home / ".gemini" / "tmp" / project / "chats"
            start = session_start(rng, first, spec.days)
            session = self.ids.uuid()
            model = GEMINI_MODELS[index % len(GEMINI_MODELS)]
            name = f"session-{start:%Y-%m-%dT%H-%M}-{session[:8]}"
            messages = self.conversation(start, rng.randint(3, 40), model)
            header = {
                "sessionId": session,
                "projectHash": project,
                "startTime": iso(start),
                "lastUpdated": iso(start),
            }
            if index % 3 == 0:
                self.legacy(chats / f"{name}.json", header, messages)
                if index % 9 == 0:  # resumed: migrated to .jsonl with every message copied
                    self.jsonl(chats / f"{name}.jsonl", header, messages, rewrite=False)
            else:
                self.jsonl(chats / f"{name}.jsonl", header, messages, rewrite=index % 4 == 1)
            if index % 5 == 2:  # a subagent's chat, under the parent session id
                sub = self.ids.uuid()
                sub_messages = self.conversation(
                    start + timedelta(minutes=3), rng.randint(2, 8), "gemini-2.5-flash"
                )
                self.jsonl(
                    chats / session / f"{sub}.jsonl",
                    {
                        "sessionId": sub,
                        "projectHash": project,
                        "kind": "subagent",
                        "startTime": iso(start),
                    },
                    sub_messages,
                    rewrite=False,
                )

    def legacy(self, path: Path, header: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(msgspec.json.format(_encode({**header, "messages": messages}), indent=2))
        self.truth.files["gemini-cli"] += 1

    def jsonl(
        self, path: Path, header: dict[str, Any], messages: list[dict[str, Any]], rewrite: bool
    ) -> None:
        """Records as Gemini CLI appends them: a reply first without tokens, then re-appended
        with them; metadata patches; a rewind now and then (rewound calls still count)."""
        rng = self.rng
        lines = [_encode(header)]
        for message in messages:
            if message["type"] == "gemini" and rng.random() < 0.6:
                lines.append(_encode({k: v for k, v in message.items() if k != "tokens"}))
            lines.append(_encode(message))
            lines.append(_encode({"$set": {"lastUpdated": message["timestamp"]}}))
            if message["type"] == "gemini" and rng.random() < 0.08:
                lines.append(_encode({"$rewindTo": message["id"]}))
        if rewrite:  # the whole history rewritten into a $set, as after masking
            lines.append(_encode({"$set": {"messages": messages}}))
        _write_jsonl(path, lines)
        self.truth.files["gemini-cli"] += 1


# -- OpenCode --------------------------------------------------------------------------------


class OpenCodeWriter:
    def __init__(self, home: Path, spec: Spec, rng: random.Random, truth: Truth) -> None:
        self.home, self.spec, self.rng, self.truth = home, spec, rng, truth
        self.text = Text(rng)
        self.ids = Ids(rng)

    def messages(self, count: int) -> list[tuple[str, str, dict[str, Any]]]:
        rng, first = self.rng, date.fromisoformat(self.spec.start)
        result: list[tuple[str, str, dict[str, Any]]] = []
        session, ts, cwd = "", datetime.now(UTC), ""
        for n in range(count):
            if n % 40 == 0:
                session = "ses_" + self.ids.token(24)
                ts = session_start(rng, first, self.spec.days)
                cwd = f"/home/dev/oc/app-{rng.randrange(8)}"
            ts += timedelta(seconds=rng.randint(3, 200), milliseconds=rng.randrange(999))
            ms = int(ts.timestamp() * 1000)
            ts = datetime.fromtimestamp(ms / 1000, UTC)
            user = {
                "id": "msg_" + self.ids.token(26),
                "sessionID": session,
                "role": "user",
                "time": {"created": ms},
            }
            result.append((user["id"], session, user))
            provider, model = OPENCODE_MODELS[n % len(OPENCODE_MODELS)]
            tokens = {
                "input": rng.randint(10, 20_000),
                "output": rng.randint(5, 3000),
                "reasoning": rng.choice((0, rng.randint(1, 900))),
                "cache": {
                    "read": rng.randint(0, 80_000),
                    "write": rng.choice((0, rng.randint(1, 9000))),
                },
            }
            reply = {
                "id": "msg_" + self.ids.token(26),
                "sessionID": session,
                "role": "assistant",
                "time": {"created": ms + 5, "completed": ms + 4000},
                "modelID": model,
                "providerID": provider,
                "tokens": tokens,
                "cost": 0,
                "path": {"cwd": cwd, "root": cwd},
            }
            result.append((reply["id"], session, reply))
            moment = datetime.fromtimestamp((ms + 5) / 1000, UTC)
            self.truth.add(
                Call(
                    "opencode",
                    model,
                    moment,
                    tokens["input"],
                    tokens["output"] + tokens["reasoning"],
                    tokens["cache"]["read"],
                    tokens["cache"]["write"],
                    reasoning=tokens["reasoning"],
                )
            )
        return result

    def database(self, path: Path, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE session (id TEXT PRIMARY KEY, directory TEXT, title TEXT)")
        conn.execute(
            "CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, "
            "time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL)"
        )
        conn.executemany(
            "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
            [
                (
                    mid,
                    ses,
                    body["time"]["created"],
                    body["time"].get("completed", body["time"]["created"]),
                    _encode(
                        {k: v for k, v in body.items() if k not in ("id", "sessionID")}
                    ).decode(),
                )
                for mid, ses, body in rows
            ],
        )
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        self.truth.files["opencode"] += 1

    def write(self) -> None:
        count = self.spec.opencode_messages
        rows = self.messages(count)
        main_rows = rows[: len(rows) * 7 // 10]
        channel_rows = rows[len(rows) * 7 // 10 : len(rows) * 8 // 10]
        legacy_rows = rows[len(rows) * 8 // 10 :] + main_rows[: len(main_rows) // 5]  # overlap
        base = self.home / ".local" / "share" / "opencode"
        self.database(base / "opencode.db", main_rows)
        self.database(base / "opencode-beta.db", channel_rows)
        for mid, ses, body in legacy_rows:
            path = base / "storage" / "message" / ses / f"{mid}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(msgspec.json.format(_encode(body), indent=2))
            self.truth.files["opencode"] += 1


def generate(out: Path, spec: Spec | None = None) -> Truth:
    """Write ``out/home`` and ``out/expected.json``; returns the truth (with every call)."""
    spec = spec or Spec()
    rng = random.Random(spec.seed)
    truth = Truth()
    home = out / "home"
    for writer in (ClaudeWriter, CodexWriter, GeminiWriter, OpenCodeWriter):
        writer(home, spec, random.Random(rng.getrandbits(64)), truth).write()
    document = {
        "description": "Exact totals of the generated corpus, per source, day and model.",
        "spec": asdict(spec),
        "files": dict(truth.files),
        "malformed_lines": dict(truth.malformed),
        "by_zone": {
            name: truth.expected(ZoneInfo(name) if name != "UTC" else UTC) for name in ZONES
        },
    }
    (out / "expected.json").write_text(json.dumps(document, indent=1) + "\n")
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    defaults = Spec()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    spec = Spec(**{name: getattr(args, name) for name in asdict(defaults)})
    started = time.perf_counter()
    truth = generate(args.out, spec)
    size = sum(p.stat().st_size for p in (args.out / "home").rglob("*") if p.is_file())
    print(
        f"wrote {args.out}/home: {sum(truth.files.values())} files, {size / 1e6:.0f} MB, "
        f"{len(truth.calls)} calls in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

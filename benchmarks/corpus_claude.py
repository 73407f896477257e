"""The corpus generator's Claude Code transcripts (every duplicate case of notes/agent-logs.md)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from corpus_common import (
    CLAUDE_MODELS,
    Call,
    Ids,
    Spec,
    Text,
    Truth,
    _encode,
    _write_jsonl,
    iso,
    session_start,
)

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

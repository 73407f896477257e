"""Codex rollouts as Codex writes them, forks and subagents included (notes/agent-logs.md,
"Forks and subagents"): the child's ``session_meta``, a copy of the parent's ``session_meta``
about 1 ms later, the parent's items re-written with the child's write time (payloads unchanged:
``token_count`` totals and ``task_started.started_at`` are the parent's), then the child's own
turns. Each builder returns the lines of one rollout file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .conftest import codex_tokens

MODEL = "gpt-5.1-codex"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _tokens(values: tuple[int, int, int, int]) -> dict[str, int]:
    return codex_tokens(*values)


def meta_payload(
    session: str,
    created: datetime,
    *,
    parent: str | None = None,
    subagent: bool = False,
    cwd: str = "/work/app",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": session,
        "timestamp": iso(created),
        "cwd": cwd,
        "originator": "codex_cli_rs",
        "cli_version": "0.118.0",
        "model_provider": "openai",
        "source": "cli",
    }
    if parent is not None:
        payload["forked_from_id"] = parent
        if subagent:
            spawn = {"parent_thread_id": parent, "depth": 1, "agent_nickname": "worker"}
            payload["source"] = {"subagent": {"thread_spawn": spawn}}
    return payload


@dataclass
class Rollout:
    """One session's own items, each ``(payload line without timestamp, original time)``."""

    session: str
    created: datetime
    meta: dict[str, Any]
    items: list[tuple[dict[str, Any], datetime]] = field(default_factory=list)
    total: tuple[int, int, int, int] = (0, 0, 0, 0)

    @classmethod
    def new(cls, session: str, created: str, **meta: Any) -> Rollout:
        moment = at(created)
        return cls(session, moment, meta_payload(session, moment, **meta))

    def turn(
        self,
        started: str,
        calls: list[tuple[int, int, int, int]],
        *,
        seconds_per_call: float = 3.0,
        model: str = MODEL,
        dated: bool = True,
        re_emit: bool = True,
    ) -> Rollout:
        """A user turn making ``calls`` (input, cached, output, reasoning), each followed by
        its token_count (and, as Codex does, a re-emitted copy of it)."""
        moment = at(started)
        turn_id = f"turn-{len(self.items)}"
        self._add({"type": "turn_context", "payload": {"model": model, "cwd": "/work/app"}}, moment)
        start: dict[str, Any] = {"type": "task_started", "turn_id": turn_id}
        if dated:
            start["started_at"] = int(moment.timestamp())
        start["model_context_window"] = 258400
        self._add({"type": "event_msg", "payload": start}, moment)
        user = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "go"}],
        }
        self._add({"type": "response_item", "payload": user}, moment)
        for call in calls:
            moment += timedelta(seconds=seconds_per_call)
            reply = {"type": "message", "role": "assistant", "content": []}
            self._add({"type": "response_item", "payload": reply}, moment)
            self.total = tuple(a + b for a, b in zip(self.total, call))  # type: ignore[assignment]
            count = self.token_count(call)
            self._add(count, moment)
            if re_emit:
                self._add(count, moment + timedelta(milliseconds=2))
        done = {"type": "task_complete", "turn_id": turn_id, "last_agent_message": "ok"}
        self._add({"type": "event_msg", "payload": done}, moment)
        return self

    def compact(self, when: str, response_id: str, usage: tuple[int, int, int, int]) -> Rollout:
        """A remote compaction (Codex 0.154+): its usage record, the ``compacted`` item naming
        the compaction's response, then a recomputed ``token_count`` (zero last usage, total
        unchanged): the compaction's tokens are in no ``token_count``."""
        moment = at(when)
        record = {
            "thread_id": self.session,
            "turn_id": f"turn-{len(self.items)}",
            "session_id": self.session,
            "root_turn_id": f"turn-{len(self.items)}",
            "response_id": response_id,
            "usage": _tokens(usage),
            "turn_token_usage": _tokens(usage),
            "thread_token_usage": _tokens(self.total),
        }
        self._add({"type": "token_usage_record", "payload": record}, moment)
        compacted = {
            "message": "",
            "replacement_history": [{"type": "compaction", "encrypted_content": "gAAAA"}],
            "compaction_response_id": response_id,
            "latest_token_usage_record": record,
        }
        self._add({"type": "compacted", "payload": compacted}, moment)
        recomputed = self.token_count((0, 0, 0, 0))
        self._add(recomputed, moment + timedelta(milliseconds=1))
        return self

    def token_count(self, last: tuple[int, int, int, int]) -> dict[str, Any]:
        info = {
            "total_token_usage": _tokens(self.total),
            "last_token_usage": _tokens(last),
            "model_context_window": 258400,
        }
        limits = {
            "primary": {"used_percent": 12.0, "window_minutes": 300, "resets_in_seconds": 900}
        }
        payload = {"type": "token_count", "info": info, "rate_limits": limits}
        return {"type": "event_msg", "payload": payload}

    def _add(self, line: dict[str, Any], moment: datetime) -> None:
        self.items.append((line, moment))

    def own_lines(self) -> list[dict[str, Any]]:
        """The session's history as its own file holds it, with the original times."""
        head = [({"type": "session_meta", "payload": self.meta}, self.created)]
        return [{"timestamp": iso(moment), **line} for line, moment in head + self.items]

    def fork(
        self,
        session: str,
        created: str,
        *,
        upto: int | None = None,
        subagent: bool = False,
        copy_spread_ms: float = 0.3,
        repeat_inherited_total: bool = False,
    ) -> Rollout:
        """A child forked from this session at ``created``: its file starts with the copy of
        this session's history (the first ``upto`` items, all by default), re-stamped."""
        child = Rollout.new(session, created, parent=self.session, subagent=subagent)
        moment = child.created + timedelta(milliseconds=1)
        history = self.own_lines()
        history = history if upto is None else history[: upto + 1]
        copied: list[tuple[dict[str, Any], datetime]] = []
        for line in history:
            payload = {key: value for key, value in line.items() if key != "timestamp"}
            copied.append((payload, moment))
            moment += timedelta(milliseconds=copy_spread_ms)
        child.items = copied
        inherited = [line for line, _ in copied if _is_count(line)]
        if inherited:
            child.total = _total_of(inherited[-1])
            if repeat_inherited_total:
                child.items.append((inherited[-1], moment))
        child.copy_end = moment
        return child

    copy_end: datetime | None = None

    def lines(self) -> list[dict[str, Any]]:
        """The file this session writes: its own ``session_meta``, then its items."""
        return self.own_lines()


def _is_count(line: dict[str, Any]) -> bool:
    payload = line.get("payload") or {}
    return bool(line.get("type") == "event_msg" and payload.get("type") == "token_count")


def _total_of(line: dict[str, Any]) -> tuple[int, int, int, int]:
    total = line["payload"]["info"]["total_token_usage"]
    keys = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
    return tuple(total[key] for key in keys)  # type: ignore[return-value]


def expected(calls: list[tuple[int, int, int, int]]) -> dict[str, int]:
    """The ledger's token fields for these calls."""
    return {
        "input": sum(c[0] - c[1] for c in calls),
        "cache_read": sum(c[1] for c in calls),
        "output": sum(c[2] for c in calls),
        "reasoning": sum(c[3] for c in calls),
        "cache_write": 0,
        "cache_write_1h": 0,
        "messages": len(calls),
    }

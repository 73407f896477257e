"""The corpus generator's Codex CLI rollouts, Gemini CLI chats and OpenCode databases."""

from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from corpus_common import (
    CODEX_MODELS,
    GEMINI_MODELS,
    OPENCODE_MODELS,
    UTC,
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
            # A fork as Codex writes it: the child's session_meta, then the parent's whole
            # history (its session_meta first) re-stamped with the child's write time, then the
            # child's own turns, whose running total goes on from the inherited one.
            session = self.ids.uuid()
            start = end + timedelta(minutes=rng.randint(1, 90))
            copy = [
                _restamp(line, start + timedelta(microseconds=1000 + 50 * n))
                for n, line in enumerate(lines)
            ]
            fork, _, _ = self.rollout(
                start,
                session,
                cwd,
                rng.randint(3, 30),
                rng.choice(CODEX_MODELS),
                prefix=copy,
                total=total,
                forked_from=parent,
            )
            name = f"rollout-{start:%Y-%m-%dT%H-%M-%S}-{session}.jsonl"
            _write_jsonl(self.home / ".codex" / "sessions" / f"{start:%Y/%m/%d}" / name, fork)
            self.truth.files["codex"] += 1


def _restamp(line: bytes, moment: datetime) -> bytes:
    """A rollout line with its ``timestamp`` replaced (the payload unchanged)."""
    head = b'{"timestamp":"'
    assert line.startswith(head)
    end = line.index(b'"', len(head))
    return head + iso(moment).encode() + line[end:]


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

"""pi and OpenClaw session files, in the format pi's session manager writes (badlogic/pi-mono:
packages/coding-agent/src/core/session-manager.ts for the entries, packages/ai/src/types.ts
for AssistantMessage and Usage): each assistant message with tokens is one call, a fork's
copied history counts once, appended lines are read incrementally, and the scan files them
under ``pi`` and ``openclaw``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmledger.ledger import Ledger
from llmledger.sources import openclaw, pi, pi_sessions
from tests.sources.conftest import run_scan, write_jsonl

SESSION = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
FORK = "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f"


def header(session: str, parent: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "type": "session",
        "version": 3,
        "id": session,
        "timestamp": "2026-01-20T10:00:00.000Z",
        "cwd": "/home/dev/app",
    }
    if parent is not None:
        line["parentSession"] = parent
    return line


def usage(
    fresh: int, output: int, read: int = 0, write: int = 0, cost: float = 0.0
) -> dict[str, Any]:
    return {
        "input": fresh,
        "output": output,
        "cacheRead": read,
        "cacheWrite": write,
        "totalTokens": fresh + output + read + write,
        "cost": {"input": 0.0, "output": 0.0, "cacheRead": 0.0, "cacheWrite": 0.0, "total": cost},
    }


def assistant(
    entry: str, parent: str, millis: int, model: str, provider: str, api: str, used: dict[str, Any],
    stop: str = "toolUse",
) -> dict[str, Any]:  # fmt: skip
    return {
        "type": "message",
        "id": entry,
        "parentId": parent,
        "timestamp": "2026-01-20T10:00:05.120Z",
        "message": {
            "role": "assistant",
            "content": [{"type": "text", "text": "Reading the file."}],
            "api": api,
            "provider": provider,
            "model": model,
            "usage": used,
            "stopReason": stop,
            "timestamp": millis,
        },
    }


def user(entry: str, parent: str | None, millis: int) -> dict[str, Any]:
    message = {"role": "user", "content": "fix the test", "timestamp": millis}
    return {"type": "message", "id": entry, "parentId": parent,
            "timestamp": "2026-01-20T10:00:01.000Z", "message": message}  # fmt: skip


HISTORY = [
    header(SESSION),
    {"type": "model_change", "id": "m0000001", "parentId": None,
     "timestamp": "2026-01-20T10:00:00.500Z", "provider": "anthropic",
     "modelId": "claude-opus-4-5"},
    user("u0000001", "m0000001", 1768903201000),
    assistant("a0000001", "u0000001", 1768903205120, "claude-opus-4-5", "anthropic",
              "anthropic-messages", usage(12, 480, 20480, 1024, 0.0412)),
    {"type": "message", "id": "t0000001", "parentId": "a0000001",
     "timestamp": "2026-01-20T10:00:06.000Z",
     "message": {"role": "toolResult", "toolCallId": "call_1", "toolName": "read",
                 "content": [{"type": "text", "text": "ok"}], "isError": False,
                 "timestamp": 1768903206000}},
    assistant("a0000002", "t0000001", 1768903260000, "gpt-5.1-codex", "openai-codex",
              "openai-codex-responses", usage(900, 64, 3072, 0, 0.0021), stop="stop"),
    # An aborted request: no tokens, no call.
    assistant("a0000003", "a0000002", 1768903270000, "gpt-5.1-codex", "openai-codex",
              "openai-codex-responses", usage(0, 0), stop="aborted"),
]  # fmt: skip


def _pi_file(home: Path, session: str, lines: list[Any]) -> Path:
    folder = home / ".pi" / "agent" / "sessions" / "--home-dev-app--"
    return write_jsonl(folder / f"2026-01-20T10-00-00-000Z_{session}.jsonl", lines)


def test_assistant_messages_are_calls(tmp_path: Path) -> None:
    path = _pi_file(tmp_path, SESSION, HISTORY)
    parsed = pi.parse_file(path, 0, None, 1 << 30)
    assert parsed.malformed == 0
    first, second = parsed.records
    assert first.id == "pi:1768903205120:12:480:20480:1024"
    assert (first.model, first.provider, first.session_id, first.project) == (
        "claude-opus-4-5",
        "anthropic",
        SESSION,
        "/home/dev/app",
    )
    assert (first.input_tokens, first.output_tokens, first.cache_read_tokens) == (12, 480, 20480)
    assert (first.cache_write_tokens, first.reasoning_tokens) == (1024, 0)
    assert first.ts.isoformat() == "2026-01-20T10:00:05.120000+00:00"
    assert first.details == {"reported_cost_usd": 0.0412, "provider": "anthropic"}
    assert (second.model, second.provider, second.input_tokens) == ("gpt-5.1-codex", "openai", 900)
    assert second.details == {"reported_cost_usd": 0.0021, "provider": "openai-codex"}


def test_appended_lines_keep_the_session(tmp_path: Path) -> None:
    path = _pi_file(tmp_path, SESSION, HISTORY[:4])
    first = pi.parse_file(path, 0, None, 1 << 30)
    write_jsonl(path, HISTORY[4:], mode="a")
    more = pi.parse_file(path, first.end_offset, first.carry, 1 << 30)
    assert [r.session_id for r in more.records] == [SESSION]
    assert [r.model for r in more.records] == ["gpt-5.1-codex"]


def test_bad_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    lines = [*HISTORY[:4], '{"type":"message","message":{"usage":', "not json", HISTORY[5]]
    parsed = pi.parse_file(_pi_file(tmp_path, SESSION, lines), 0, None, 1 << 30)
    assert parsed.malformed == 1  # the line without "usage" or "session" is never decoded
    assert len(parsed.records) == 2


def test_scan_files_pi_and_openclaw_and_a_fork_counts_once(
    isolated_home: Path, tmp_path: Path
) -> None:
    _pi_file(isolated_home, SESSION, HISTORY)
    # /fork: a new session file whose header names the parent, the path copied into it.
    fork = [header(FORK, parent=SESSION), *HISTORY[1:6]]
    later = usage(40, 200, 4096, 0, 0.003)
    fork.append(assistant("a0000004", "a0000002", 1768903300000, "claude-opus-4-5",
                          "anthropic", "anthropic-messages", later))  # fmt: skip
    _pi_file(isolated_home, FORK, fork)
    claw = isolated_home / ".openclaw" / "agents" / "main" / "sessions"
    write_jsonl(claw / f"{SESSION}.jsonl", HISTORY[:4])
    (claw / "sessions.json").write_text(json.dumps({"main": {"sessionId": SESSION}}))
    with Ledger(tmp_path / "ledger.db") as ledger:
        result = run_scan(ledger, isolated_home)
        assert not result.skipped
        events = sorted(ledger.events(), key=lambda e: (e.source, e.ts))
    assert [(e.source, e.model, e.input_tokens) for e in events] == [
        ("openclaw", "claude-opus-4-5", 12),
        ("pi", "claude-opus-4-5", 12),
        ("pi", "gpt-5.1-codex", 900),
        ("pi", "claude-opus-4-5", 40),
    ]
    assert events[1].cost_status == "computed" and events[1].cost_nanos
    assert [e.session_id for e in events] == [SESSION, SESSION, SESSION, FORK]


def test_where_they_look() -> None:
    env = {"HOME": "/h"}
    assert pi.SOURCE.roots(env) == [Path("/h/.pi/agent/sessions")]
    assert pi.SOURCE.roots({**env, "PI_CODING_AGENT_DIR": "/x/agent"}) == [
        Path("/x/agent/sessions")
    ]
    assert pi.SOURCE.roots({**env, "PI_CODING_AGENT_SESSION_DIR": "/s"}) == [Path("/s")]
    assert openclaw.SOURCE.roots(env) == [Path("/h/.openclaw/agents"), Path("/h/.clawdbot/agents")]
    assert pi_sessions.PROVIDERS["google-gemini-cli"] == "gemini"

"""Helpers for the agent-log tests: real log files written into the isolated HOME, a real
SQLite ledger, and per-day totals read back from it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import Any

import pytest

from llmledger.ledger import Ledger
from llmledger.scan import ScanResult, scan

TOKEN_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger(ledger_url) as led:
        yield led


def run_scan(ledger: Ledger, home: Path, **kwargs: Any) -> ScanResult:
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share")}
    env.update(kwargs.pop("env", {}))
    return scan(ledger, env=env, workers=kwargs.pop("workers", 1), **kwargs)


def write_jsonl(path: Path, lines: list[Any], mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def totals(
    ledger: Ledger, source: str | None = None, zone: tzinfo | None = None
) -> dict[str, dict[str, int]]:
    """Per (local) day: token sums and the number of events."""
    days: dict[str, dict[str, int]] = {}
    for event in ledger.events():
        if source is not None and event.source != source:
            continue
        moment = event.ts if zone is None else event.ts.astimezone(zone)
        bucket = days.setdefault(moment.date().isoformat(), dict.fromkeys(TOKEN_KEYS, 0))
        add_event(bucket, event)
    return days


def add_event(bucket: dict[str, int], event: Any) -> None:
    bucket["input"] += event.input_tokens
    bucket["output"] += event.output_tokens
    bucket["cache_read"] += event.cache_read_tokens
    bucket["cache_write"] += event.cache_write_tokens + event.cache_write_1h_tokens
    bucket["cache_write_1h"] += event.cache_write_1h_tokens
    bucket["reasoning"] += event.reasoning_tokens
    bucket["messages"] = bucket.get("messages", 0) + 1


def claude_line(
    message_id: str,
    request_id: str | None,
    *,
    ts: str = "2025-09-28T06:17:23.678Z",
    input_tokens: int = 4,
    output: int = 6,
    cache_write: int = 0,
    cache_1h: int = 0,
    cache_read: int = 0,
    model: str = "claude-sonnet-4-20250514",
    sidechain: bool = False,
    session: str = "s1",
    cwd: str = "/Users/x/proj",
    stop: str | None = "end_turn",
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_write - cache_1h,
            "ephemeral_1h_input_tokens": cache_1h,
        },
        "output_tokens": output,
        "service_tier": "standard",
    }
    line: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "1.0.128",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "hello"}],
            "stop_reason": stop,
            "usage": usage,
        },
        "type": "assistant",
        "uuid": f"u-{message_id}-{output}",
        "timestamp": ts,
    }
    if request_id is not None:
        line["requestId"] = request_id
    return line


def codex_tokens(inp: int, cached: int, out: int, reasoning: int) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def codex_count(ts: str, total: list[int], last: list[int] | None) -> dict[str, Any]:
    info = None
    if last is not None:
        info = {
            "total_token_usage": codex_tokens(*total),
            "last_token_usage": codex_tokens(*last),
            "model_context_window": 258400,
        }
    return {"timestamp": ts, "type": "event_msg", "payload": {"type": "token_count", "info": info}}


def codex_meta(ts: str, session: str, **extra: Any) -> dict[str, Any]:
    payload = {"id": session, "cwd": "/work/app", "cli_version": "0.77.0", **extra}
    return {"timestamp": ts, "type": "session_meta", "payload": payload}


def codex_turn(ts: str, model: str) -> dict[str, Any]:
    return {"timestamp": ts, "type": "turn_context", "payload": {"model": model, "cwd": "/w"}}


def gemini_message(
    message_id: str,
    *,
    ts: str = "2026-07-31T12:50:23.468Z",
    inp: int = 100,
    out: int = 10,
    cached: int = 0,
    thoughts: int = 0,
    model: str = "gemini-2.5-pro",
) -> dict[str, Any]:
    return {
        "id": message_id,
        "timestamp": ts,
        "type": "gemini",
        "content": "ok",
        "tokens": {
            "input": inp,
            "output": out,
            "cached": cached,
            "thoughts": thoughts,
            "tool": 0,
            "total": inp + out + thoughts,
        },
        "model": model,
    }

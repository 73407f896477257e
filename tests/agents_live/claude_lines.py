"""Claude Code transcript lines and statusline stdin in the shapes Claude Code writes (see
notes/agent-logs.md for the transcript line; the statusline JSON as Claude Code's statusline
docs give it: session_id, transcript_path, cwd, model {id, display_name}, workspace
{current_dir, project_dir}, version, output_style, cost {...}, context_window {...}, and
``rate_limits`` {five_hour, seven_day: {used_percentage, resets_at (unix seconds)}} for
Claude.ai subscribers once the session's first response came back)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

SESSION = "ed8cd0a3-5d1c-4f0e-9d2a-8b7f4c3e2a10"
MODEL = "claude-sonnet-4-5-20250929"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def assistant(
    message_id: str,
    moment: datetime,
    *,
    fresh: int = 4,
    read: int = 10_000,
    write: int = 2_000,
    write_1h: int = 0,
    output: int = 300,
    thinking: int | None = None,
    sidechain: bool = False,
    model: str = MODEL,
    request: str | None = None,
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": fresh,
        "cache_creation_input_tokens": write + write_1h,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "output_tokens": output,
        "service_tier": "standard",
    }
    if thinking is not None:
        usage["output_tokens_details"] = {"thinking_tokens": thinking}
    return {
        "parentUuid": "3f1c9d2e-0b7a-4e55-8d1f-6a2b9c0e7d41",
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": "/work/app",
        "sessionId": SESSION,
        "version": "2.0.14",
        "gitBranch": "main",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Done."}],
            "stop_reason": "end_turn",
            "usage": usage,
        },
        "requestId": request or f"req_{message_id[4:]}",
        "type": "assistant",
        "uuid": f"uuid-{message_id}",
        "timestamp": iso(moment),
    }


def progress(inner: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """A subagent's assistant line nested in a ``progress`` line (``data.message``)."""
    return {
        "parentUuid": "6f2a0c1d-3b4e-4f5a-8c9d-0e1f2a3b4c5d",
        "isSidechain": False,
        "sessionId": SESSION,
        "type": "progress",
        "data": {"type": "agent_progress", "message": inner},
        "uuid": "progress-1",
        "timestamp": iso(moment),
    }


def statusline_input(
    transcript: str, *, limits: tuple[float, int, float, int] | None = None
) -> dict[str, Any]:
    """Claude Code's statusline stdin; ``limits``: (5-hour %, its resets_at, 7-day %, its
    resets_at) for a subscriber's ``rate_limits``."""
    payload: dict[str, Any] = {
        "session_id": SESSION,
        "transcript_path": transcript,
        "cwd": "/work/app",
        "model": {"id": MODEL, "display_name": "Sonnet 4.5"},
        "workspace": {"current_dir": "/work/app", "project_dir": "/work/app"},
        "version": "2.0.14",
        "output_style": {"name": "default"},
        "cost": {
            "total_cost_usd": 0.42,
            "total_duration_ms": 180000,
            "total_api_duration_ms": 2300,
            "total_lines_added": 156,
            "total_lines_removed": 23,
        },
        "exceeds_200k_tokens": False,
    }
    if limits is not None:
        five, five_reset, week, week_reset = limits
        payload["rate_limits"] = {
            "five_hour": {"used_percentage": five, "resets_at": five_reset},
            "seven_day": {"used_percentage": week, "resets_at": week_reset},
        }
    return payload

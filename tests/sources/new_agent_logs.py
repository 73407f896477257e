"""Log lines and files of Kimi CLI, Droid and Copilot CLI, as those agents write them, for the
agent-log tests."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def kimi_update(ts: float, message_id: str | None, usage: list[int]) -> dict[str, Any]:
    other, output, cache_read, cache_creation = usage
    payload: dict[str, Any] = {
        "context_usage": 0.02,
        "token_usage": {
            "input_other": other,
            "output": output,
            "input_cache_read": cache_read,
            "input_cache_creation": cache_creation,
        },
        "message_id": message_id,
    }
    return {"timestamp": ts, "message": {"type": "StatusUpdate", "payload": payload}}


def kimi_session(share: Path, work_dir: str, session: str) -> Path:
    """A session folder named as Kimi CLI names it, and kimi.json listing its work dir."""
    group = hashlib.md5(work_dir.encode()).hexdigest()
    folder = share / "sessions" / group / session
    folder.mkdir(parents=True)
    (share / "kimi.json").write_text(json.dumps({"work_dirs": [{"path": work_dir}]}))
    return folder


T0 = datetime(2026, 2, 15, 10, 0, tzinfo=timezone.utc).timestamp()


def droid_settings(usage: list[int], **extra: Any) -> dict[str, Any]:
    inp, out, cache_write, cache_read, thinking = usage
    token_usage = {
        "inputTokens": inp,
        "outputTokens": out,
        "cacheCreationTokens": cache_write,
        "cacheReadTokens": cache_read,
        "thinkingTokens": thinking,
    }
    return {"tokenUsage": token_usage, **extra}


def write_settings(path: Path, settings: dict[str, Any], mtime: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings))
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def copilot_shutdown(event_id: str, ts: str, metrics: dict[str, list[int]]) -> dict[str, Any]:
    """``metrics``: model -> [input (cache included), output, cache read, cache write,
    reasoning, requests]."""
    model_metrics = {
        model: {
            "requests": {"count": m[5], "cost": 1},
            "usage": {
                "inputTokens": m[0],
                "outputTokens": m[1],
                "cacheReadTokens": m[2],
                "cacheWriteTokens": m[3],
                "reasoningTokens": m[4],
            },
        }
        for model, m in metrics.items()
    }
    data = {"shutdownType": "routine", "modelMetrics": model_metrics, "currentModel": "x"}
    return {"type": "session.shutdown", "id": event_id, "timestamp": ts, "data": data}


def copilot_start(session: str) -> dict[str, Any]:
    data = {"sessionId": session, "context": {"cwd": "/src/capp"}, "producer": "copilot-agent"}
    return {"type": "session.start", "id": "e0", "timestamp": "2026-04-08T04:00:00Z", "data": data}


CHECKPOINT = {"type": "session.usage_checkpoint", "id": "c1", "timestamp": "2026-04-08T04:30:00Z"}

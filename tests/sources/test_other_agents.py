"""Qwen Code, Amp and the old Qwen proxy's request_counts.json."""

from __future__ import annotations

import json
from pathlib import Path

from llmledger.ledger import Ledger

from .conftest import run_scan, totals, write_jsonl


def test_qwen_code_chats(ledger: Ledger, isolated_home: Path) -> None:
    record = {
        "uuid": "q1",
        "sessionId": "qs",
        "timestamp": "2025-11-02T10:00:00.000Z",
        "type": "assistant",
        "cwd": "/src/app",
        "model": "qwen3-coder-plus",
        "usageMetadata": {
            "promptTokenCount": 1200,
            "candidatesTokenCount": 300,
            "thoughtsTokenCount": 40,
            "cachedContentTokenCount": 200,
        },
    }
    branch = {**record, "sessionId": "qs-branch"}  # /branch copies records verbatim
    path = isolated_home / ".qwen" / "projects" / "-src-app" / "chats"
    write_jsonl(path / "qs.jsonl", [{"type": "user", "uuid": "u"}, record])
    write_jsonl(path / "qs-branch.jsonl", [branch])
    run_scan(ledger, isolated_home)
    assert totals(ledger, "qwen-code")["2025-11-02"] == {
        "input": 1000,
        "cache_read": 200,
        "output": 340,
        "reasoning": 40,
        "cache_write": 0,
        "cache_write_1h": 0,
        "messages": 1,
    }


def test_amp_threads(ledger: Ledger, isolated_home: Path) -> None:
    thread = {
        "id": "T-1",
        "created": 1733011200000,
        "messages": [
            {"role": "user", "messageId": 0},
            {
                "role": "assistant",
                "messageId": 1,
                "usage": {
                    "model": "claude-sonnet-4-5",
                    "timestamp": "2024-12-01T00:00:05.000Z",
                    "inputTokens": 10,
                    "outputTokens": 20,
                    "cacheCreationInputTokens": 30,
                    "cacheReadInputTokens": 40,
                    "totalTokens": 100,
                },
            },
        ],
    }
    folder = isolated_home / ".local" / "share" / "amp" / "threads"
    folder.mkdir(parents=True)
    (folder / "T-1.json").write_text(json.dumps(thread))
    run_scan(ledger, isolated_home)
    day = totals(ledger, "amp")["2024-12-01"]
    assert (day["input"], day["output"], day["cache_write"], day["cache_read"]) == (10, 20, 30, 40)


def test_qwen_proxy_request_counts(ledger: Ledger, isolated_home: Path) -> None:
    counts = {
        "lastResetDate": "2025-08-22",
        "requests": {"default": 45},
        "tokenUsage": {
            "default": [
                {"date": "2025-08-20", "inputTokens": 12500, "outputTokens": 8300},
                {"date": "2025-08-22", "inputTokens": 100, "outputTokens": 50},
                {"date": "not a date", "inputTokens": 1, "outputTokens": 1},
            ]
        },
    }
    path = isolated_home / ".qwen" / "request_counts.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(counts))
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 1
    days = totals(ledger, "qwen-proxy")
    assert {d: (v["input"], v["output"]) for d, v in days.items()} == {
        "2025-08-20": (12500, 8300),
        "2025-08-22": (100, 50),
    }
    today = ledger.get("qwen-proxy:default:2025-08-22")
    assert today is not None and today.requests == 45
    # The day grows: re-read, replaced, not added.
    counts["tokenUsage"]["default"][1]["inputTokens"] = 900  # type: ignore[index]
    path.write_text(json.dumps(counts))
    run_scan(ledger, isolated_home)
    assert totals(ledger, "qwen-proxy")["2025-08-22"]["input"] == 900

"""Agent logs that carry a provider's usage map it through that provider's one mapping in
``llmledger.usage`` (tests/usage/test_paths_agree.py checks them against every other path):
here, the edge cases whose answer changed when the parsers' own mappings went away."""

from __future__ import annotations

import json
from pathlib import Path

from llmledger.ledger import Ledger

from .conftest import (
    claude_line,
    codex_count,
    codex_meta,
    codex_turn,
    gemini_message,
    run_scan,
    write_jsonl,
)


def test_claude_code_details_are_the_anthropic_mappings(
    ledger: Ledger, isolated_home: Path
) -> None:
    plain = claude_line("msg_plain", "r1")
    fast = claude_line("msg_fast", "r2", cache_write=100, cache_1h=40)
    fast["message"]["usage"].update(
        speed="fast",
        inference_geo="not_available",
        server_tool_use={"web_search_requests": 2, "web_fetch_requests": 0},
    )
    path = isolated_home / ".claude" / "projects" / "-proj" / "s1.jsonl"
    write_jsonl(path, [plain, fast])
    run_scan(ledger, isolated_home)
    event = ledger.get("claude:msg_plain")
    assert event is not None and event.details == {"service_tier": "standard"}
    event = ledger.get("claude:msg_fast")
    assert event is not None
    assert (event.cache_write_tokens, event.cache_write_1h_tokens) == (60, 40)
    assert event.details == {
        "server_tool_use": {"web_search_requests": 2},
        "service_tier": "standard",
        "speed": "fast",
    }


def test_gemini_cli_keeps_a_cache_count_above_the_prompt(
    ledger: Ledger, isolated_home: Path
) -> None:
    session = {
        "sessionId": "s-odd",
        "projectHash": "abc123",
        "messages": [gemini_message("g1", inp=10, cached=30, out=2)],
    }
    path = isolated_home / ".gemini" / "tmp" / "abc123" / "chats" / "session-x.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(session))
    run_scan(ledger, isolated_home)
    event = ledger.get("gemini:s-odd:g1")
    assert event is not None
    assert (event.input_tokens, event.cache_read_tokens, event.output_tokens) == (0, 30, 2)
    assert event.details == {"clamped": {"input_tokens": -20}, "reported_total_tokens": 12}


def test_codex_keeps_a_cached_count_above_the_input(ledger: Ledger, isolated_home: Path) -> None:
    day = "2026-07-03T18:15"
    lines = [
        codex_meta(f"{day}:00.000Z", "019b-odd"),
        codex_turn(f"{day}:01.000Z", "gpt-5-codex"),
        codex_count(f"{day}:02.000Z", [10, 30, 5, 0], [10, 30, 5, 0]),
    ]
    path = isolated_home / ".codex" / "sessions" / "2026" / "07" / "03" / "rollout-019b-odd.jsonl"
    write_jsonl(path, lines)
    run_scan(ledger, isolated_home)
    (event,) = ledger.events()
    assert (event.input_tokens, event.cache_read_tokens, event.output_tokens) == (0, 30, 5)
    assert event.details == {"clamped": {"input_tokens": -20}}

"""``Ledger.record_response``: a provider's JSON body the app already holds (from its own HTTP
call) recorded with the same mapping as every capture path, under the id capture gives it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmledger import InvalidEventError, Ledger
from tests.capture import wire
from tests.capture.conftest import only, recorded, tokens


def test_an_openai_chat_body_with_attribution(ledger: Ledger) -> None:
    body = wire.chat_completion("gpt-4o", "Hello there!", wire.OPENAI_CHAT_USAGE)
    event = ledger.record_response(
        body, provider="openai", user_id="u1", session_id="s1", request_type="diagram", tags=["a"]
    )
    assert event is not None
    stored = only(ledger)
    assert stored.id == event.id == f"call:{body['id']}"
    assert (stored.source, stored.provider, stored.model) == ("manual", "openai", "gpt-4o")
    assert tokens(stored) == {
        "input": 27,
        "cache_read": 98,
        "cache_write": 0,
        "cache_write_1h": 0,
        "output": 48,
        "reasoning": 16,
    }
    assert (stored.user_id, stored.session_id, stored.request_type) == ("u1", "s1", "diagram")
    assert stored.tags == ("a",) and not stored.estimated and stored.cost_status == "computed"


def test_bytes_or_text_of_a_dashscope_body(ledger: Ledger) -> None:
    usage = {
        "prompt_tokens": 3019,
        "completion_tokens": 104,
        "total_tokens": 3123,
        "prompt_tokens_details": {"cached_tokens": 2048},
    }
    raw = json.dumps(wire.chat_completion("qwen-plus", "hi", usage))
    ledger.record_response(raw.encode(), provider="dashscope")
    event = only(ledger)
    assert (event.provider, event.model) == ("dashscope", "qwen-plus")
    assert (event.input_tokens, event.cache_read_tokens, event.output_tokens) == (971, 2048, 104)


def test_deepseek_hit_and_miss_fields(ledger: Ledger) -> None:
    body = wire.chat_completion("deepseek-chat", "hi", wire.DEEPSEEK_USAGE)
    ledger.record_response(json.dumps(body), provider="deepseek")
    event = only(ledger)
    assert (event.input_tokens, event.cache_read_tokens, event.output_tokens) == (360, 640, 200)


def test_an_anthropic_body_with_both_cache_write_ttls(ledger: Ledger) -> None:
    body = wire.anthropic_message("claude-sonnet-4-6", "Hello", wire.ANTHROPIC_USAGE)
    ledger.record_response(body, provider="anthropic", org_id="acme")
    event = only(ledger)
    assert tokens(event) == {
        "input": 3,
        "cache_read": 2048,
        "cache_write": 12000,
        "cache_write_1h": 304,
        "output": 550,
        "reasoning": 0,
    }
    assert event.org_id == "acme" and event.id == f"call:{body['id']}"


def test_a_gemini_body_names_its_model_and_id_its_own_way(ledger: Ledger) -> None:
    body: dict[str, Any] = {
        "candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 20,
            "cachedContentTokenCount": 60,
            "thoughtsTokenCount": 5,
            "totalTokenCount": 125,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-g1",
    }
    ledger.record_response(body, provider="gemini")
    event = only(ledger)
    assert (event.id, event.model) == ("call:resp-g1", "gemini-2.5-flash")
    assert (event.input_tokens, event.cache_read_tokens, event.output_tokens) == (40, 60, 25)
    assert event.reasoning_tokens == 5


def test_the_same_response_twice_counts_once(ledger: Ledger) -> None:
    body = wire.chat_completion("gpt-4o", "hi", wire.OPENAI_CHAT_USAGE)
    ledger.record_response(body)
    ledger.record_response(body)
    assert [e.total_tokens for e in recorded(ledger)] == [173]


def test_a_body_without_usage_records_nothing(ledger: Ledger) -> None:
    assert ledger.record_response(wire.chat_completion("gpt-4o", "hi", None)) is None
    assert recorded(ledger) == []


def test_what_is_not_a_json_object_is_refused(ledger: Ledger) -> None:
    with pytest.raises(TypeError, match="JSON object"):
        ledger.record_response(b"[1, 2]")
    body = wire.chat_completion("gpt-4o", "hi", wire.OPENAI_CHAT_USAGE)
    with pytest.raises(InvalidEventError, match="unknown event field"):
        ledger.record_response(body, user="x")

"""Anthropic Messages usage in its wire shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmledger.usage import TokenCounts, anthropic_usage

Form = Callable[[Any], Any]

MESSAGE = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 3,
        "output_tokens": 550,
        "cache_creation_input_tokens": 12304,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 12304, "ephemeral_1h_input_tokens": 0},
        "server_tool_use": {"web_search_requests": 0},
        "service_tier": "standard",
    },
}


def message(usage: dict[str, Any]) -> dict[str, Any]:
    return {**MESSAGE, "usage": usage}


def test_spec_example(form: Form) -> None:
    counts = anthropic_usage(form(MESSAGE))
    assert counts == TokenCounts(
        input_tokens=3,  # already excludes cache tokens
        cache_write_tokens=12304,
        output_tokens=550,
        details={"service_tier": "standard"},
    )
    assert counts is not None and counts.total_tokens == 3 + 12304 + 550


def test_one_hour_writes_are_split_out(form: Form) -> None:
    usage = {
        "input_tokens": 50,
        "output_tokens": 400,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 90000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
    }
    assert anthropic_usage(form(message(usage))) == TokenCounts(
        input_tokens=50,
        cache_read_tokens=90000,
        cache_write_tokens=1000,
        cache_write_1h_tokens=2000,
        output_tokens=400,
    )


def test_without_the_split_all_writes_are_five_minute(form: Form) -> None:
    usage: dict[str, Any] = {
        "input_tokens": 10,
        "output_tokens": 20,
        "cache_creation_input_tokens": 700,
        "cache_read_input_tokens": 300,
    }
    assert anthropic_usage(form(message(usage))) == TokenCounts(
        input_tokens=10, cache_read_tokens=300, cache_write_tokens=700, output_tokens=20
    )
    usage["cache_creation"] = None
    assert anthropic_usage(form(message(usage))) == TokenCounts(
        input_tokens=10, cache_read_tokens=300, cache_write_tokens=700, output_tokens=20
    )


def test_a_split_that_covers_less_than_the_total_keeps_every_token(form: Form) -> None:
    usage = {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_creation_input_tokens": 1000,
        "cache_creation": {"ephemeral_1h_input_tokens": 600},
    }
    counts = anthropic_usage(form(message(usage)))
    assert counts is not None
    assert (counts.cache_write_tokens, counts.cache_write_1h_tokens) == (400, 600)
    assert counts.details == {"cache_creation_unsplit_tokens": 400}


def test_a_split_larger_than_the_total_is_trusted_and_noted(form: Form) -> None:
    usage = {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_creation_input_tokens": 100,
        "cache_creation": {"ephemeral_5m_input_tokens": 80, "ephemeral_1h_input_tokens": 40},
    }
    counts = anthropic_usage(form(message(usage)))
    assert counts is not None
    assert (counts.cache_write_tokens, counts.cache_write_1h_tokens) == (80, 40)
    assert counts.details == {"reported_cache_creation_input_tokens": 100}


def test_thinking_tokens_server_tools_and_pricing_modifiers(form: Form) -> None:
    usage = {
        "input_tokens": 2095,
        "output_tokens": 503,
        "output_tokens_details": {"thinking_tokens": 320},
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0},
        "service_tier": "priority",
        "speed": "fast",
        "inference_geo": "us",
    }
    assert anthropic_usage(form(message(usage))) == TokenCounts(
        input_tokens=2095,
        output_tokens=503,
        reasoning_tokens=320,
        details={
            "server_tool_use": {"web_search_requests": 2},
            "service_tier": "priority",
            "speed": "fast",
            "inference_geo": "us",
        },
    )


def test_message_start_and_message_delta_events(form: Form) -> None:
    start = {
        "type": "message_start",
        "message": {
            **MESSAGE,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 25, "cache_read_input_tokens": 400, "output_tokens": 1},
        },
    }
    assert anthropic_usage(form(start)) == TokenCounts(
        input_tokens=25, cache_read_tokens=400, output_tokens=1
    )
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 15},
    }
    assert anthropic_usage(form(delta)) == TokenCounts(output_tokens=15)


def test_no_usage_is_none(form: Form) -> None:
    assert anthropic_usage(form({"type": "ping"})) is None
    assert anthropic_usage(form({"type": "content_block_stop", "index": 0})) is None
    assert anthropic_usage(form({**MESSAGE, "usage": None})) is None


def test_garbage_fields_are_ignored(form: Form) -> None:
    usage = {
        "input_tokens": 5,
        "output_tokens": "many",
        "cache_creation": "yes",
        "server_tool_use": [1],
        "service_tier": 7,
    }
    counts = anthropic_usage(form(message(usage)))
    assert counts is not None
    assert counts.total_tokens == 5
    assert counts.details == {"invalid": {"output_tokens": "'many'"}}


def test_the_split_wins_over_a_smaller_total(form: Form) -> None:
    """Writes 100 split 80 / 50: the ledger's 5-minute and 1-hour fields are the split
    (notes/provider-usage.md: "5m / 1h split, else cache_creation_input_tokens as 5m"), the
    total that disagrees is kept as evidence. The Claude Code source maps it the same way
    (tests/usage/test_paths_agree.py)."""
    usage = {
        "input_tokens": 3,
        "output_tokens": 7,
        "cache_creation_input_tokens": 100,
        "cache_creation": {"ephemeral_5m_input_tokens": 80, "ephemeral_1h_input_tokens": 50},
    }
    counts = anthropic_usage(form(message(usage)))
    assert counts is not None
    assert (counts.cache_write_tokens, counts.cache_write_1h_tokens) == (80, 50)
    assert counts.details == {"reported_cache_creation_input_tokens": 100}


def test_standard_price_labels_stay_out_of_details(form: Form) -> None:
    """``speed`` and ``inference_geo`` are noted only when they change the price; the service
    tier is noted as reported (as OpenAI's is)."""
    base = {"input_tokens": 1, "output_tokens": 2, "service_tier": "standard"}
    for speed, geo in (("standard", "not_available"), ("standard", ""), (None, "global")):
        usage = {**base, "speed": speed, "inference_geo": geo}
        counts = anthropic_usage(form(message(usage)))
        assert counts is not None and counts.details == {"service_tier": "standard"}, usage
    usage = {**base, "speed": "fast", "inference_geo": "us"}
    counts = anthropic_usage(form(message(usage)))
    assert counts is not None
    assert counts.details == {"service_tier": "standard", "speed": "fast", "inference_geo": "us"}


def test_server_tool_use_keeps_the_documented_counters(form: Form) -> None:
    usage = {
        "input_tokens": 1,
        "output_tokens": 2,
        "server_tool_use": {
            "web_search_requests": 3,
            "web_fetch_requests": 1,
            "not_a_counter": 9,
        },
    }
    counts = anthropic_usage(form(message(usage)))
    assert counts is not None
    assert counts.details == {
        "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 1}
    }


def test_thinking_above_output_is_clamped_and_noted(form: Form) -> None:
    usage = {"input_tokens": 1, "output_tokens": 5, "output_tokens_details": {"thinking_tokens": 9}}
    counts = anthropic_usage(form(message(usage)))
    assert counts is not None
    assert (counts.output_tokens, counts.reasoning_tokens) == (5, 5)
    assert counts.details == {"clamped": {"reasoning_tokens": 9}}

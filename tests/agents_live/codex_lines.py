"""Codex rollout lines carrying ``rate_limits`` in each shape Codex has written (openai/codex
codex-rs/protocol/src/protocol.rs over time): the flat ``RateLimitSnapshotEvent`` of 0.39-0.40
(``primary_used_percent``, ``primary_to_secondary_ratio_percent``, ``*_window_minutes``), the
``primary``/``secondary`` windows with ``resets_in_seconds`` (0.41-0.45), then with
``resets_at`` in unix seconds plus ``credits`` and ``plan_type`` (0.46+), and the newest with
``limit_id``, ``limit_name`` and ``rate_limit_reached_type``."""

from __future__ import annotations

from typing import Any

SESSION = "0199a213-81c0-7800-8aa1-bbab2a035a53"


def meta(ts: str) -> dict[str, Any]:
    payload = {"id": SESSION, "timestamp": ts, "cwd": "/work/app", "originator": "codex_cli_rs"}
    payload |= {"cli_version": "0.46.0", "model_provider": "openai", "source": "cli"}
    return {"timestamp": ts, "type": "session_meta", "payload": payload}


def turn(ts: str, model: str = "gpt-5-codex") -> dict[str, Any]:
    return {"timestamp": ts, "type": "turn_context", "payload": {"model": model, "cwd": "/w"}}


def tokens(total: int, last: int) -> dict[str, Any]:
    def counts(n: int) -> dict[str, int]:
        return {
            "input_tokens": n,
            "cached_input_tokens": 0,
            "output_tokens": 10,
            "reasoning_output_tokens": 0,
            "total_tokens": n + 10,
        }

    return {
        "total_token_usage": counts(total),
        "last_token_usage": counts(last),
        "model_context_window": 272000,
    }


def token_count(ts: str, info: dict[str, Any] | None, limits: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "token_count", "info": info}
    if limits is not ...:
        payload["rate_limits"] = limits
    return {"timestamp": ts, "type": "event_msg", "payload": payload}


def flat_limits(primary: float, secondary: float) -> dict[str, Any]:
    """0.39-0.40."""
    return {
        "primary_used_percent": primary,
        "secondary_used_percent": secondary,
        "primary_to_secondary_ratio_percent": 75.0,
        "primary_window_minutes": 299,
        "secondary_window_minutes": 10079,
    }


def relative_limits(primary: float, resets_in: int, secondary: float) -> dict[str, Any]:
    """0.41-0.45."""
    return {
        "primary": {"used_percent": primary, "window_minutes": 300, "resets_in_seconds": resets_in},
        "secondary": {
            "used_percent": secondary,
            "window_minutes": 10080,
            "resets_in_seconds": 86_400,
        },
    }


def absolute_limits(primary: float, resets_at: int, *, newest: bool = False) -> dict[str, Any]:
    """0.46+ (``newest``: with the limit id, name and reached type)."""
    limits: dict[str, Any] = {
        "primary": {"used_percent": primary, "window_minutes": 300, "resets_at": resets_at},
        "secondary": None,
        "credits": {"has_credits": False, "unlimited": False, "balance": None},
        "plan_type": "plus",
    }
    if newest:
        limits = {"limit_id": "codex", "limit_name": None, **limits}
        limits["rate_limit_reached_type"] = None
    return limits

"""Codex ``rate_limits`` on ``token_count`` events: every shape Codex has written is read into
official window readings, kept in the scan's carried state, filed in the ledger, and never
costs a line's usage (a shape no version wrote is ignored, the usage still counted)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from llmledger.agent_windows import file_codex_readings, latest_windows
from llmledger.ledger import Ledger
from llmledger.rate_windows import RateWindow
from llmledger.sources import codex
from tests.sources.conftest import run_scan, write_jsonl

from .codex_lines import (
    SESSION,
    absolute_limits,
    flat_limits,
    meta,
    relative_limits,
    token_count,
    tokens,
    turn,
)

T0 = "2026-03-02T10:00:00.000Z"


def _us(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _windows(line: dict[str, Any]) -> list[RateWindow]:
    import json

    payload = json.dumps(line["payload"]["rate_limits"]).encode()
    ts = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    return codex.rate_windows(payload, ts, SESSION)


def test_flat_shape_of_0_40() -> None:
    [primary, secondary] = _windows(token_count(T0, None, flat_limits(12.5, 40.0)))
    assert primary == RateWindow(
        source="codex",
        window="primary",
        observed_us=_us(T0),
        used_percent=12.5,
        window_minutes=299,
        resets_at_us=None,
        session_id=SESSION,
    )
    assert (secondary.window, secondary.used_percent, secondary.window_minutes) == (
        "secondary",
        40.0,
        10079,
    )


def test_resets_in_seconds_counts_from_the_event() -> None:
    [primary, secondary] = _windows(token_count(T0, None, relative_limits(5.0, 600, 50.0)))
    assert primary.resets_at_us == _us(T0) + 600_000_000
    assert secondary.resets_at_us == _us(T0) + 86_400_000_000
    assert (primary.window_minutes, secondary.window_minutes) == (300, 10080)


def test_resets_at_and_the_newest_fields() -> None:
    [older] = _windows(token_count(T0, None, absolute_limits(10.0, 1_772_460_000)))
    [newest] = _windows(token_count(T0, None, absolute_limits(10.0, 1_772_460_000, newest=True)))
    assert older.resets_at_us == 1_772_460_000_000_000
    assert (older.plan, older.limit_id) == ("plus", "")
    assert (newest.plan, newest.limit_id, newest.resets_at_us) == (
        "plus",
        "codex",
        1_772_460_000_000_000,
    )


def test_unknown_shapes_give_no_reading() -> None:
    for odd in ({"primary": "full"}, [1, 2], {"primary": {"used_percent": "x"}}, {}):
        assert _windows(token_count(T0, None, odd)) == []


def _rollout(home: Path, lines: list[dict[str, Any]]) -> Path:
    path = home / ".codex" / "sessions" / "2026" / "03" / "02" / f"rollout-x-{SESSION}.jsonl"
    return write_jsonl(path, lines)


def test_scan_keeps_first_and_latest_reading_per_period_and_files_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    resets = _us("2026-03-02T14:00:00.000Z") // 1_000_000
    lines = [
        meta(T0),
        turn(T0),
        token_count("2026-03-02T10:00:05.000Z", tokens(100, 100), absolute_limits(10.0, resets)),
        # A rate-limit-only event (info null): a reading, no usage.
        token_count("2026-03-02T10:30:00.000Z", None, absolute_limits(20.0, resets)),
        token_count("2026-03-02T11:00:00.000Z", tokens(300, 200), absolute_limits(30.0, resets)),
        # An event of a shape no Codex wrote: the usage still counts.
        token_count("2026-03-02T11:10:00.000Z", tokens(600, 300), {"primary": "full"}),
        token_count("2026-03-02T11:20:00.000Z", tokens(1000, 400), ...),
    ]
    path = _rollout(home, lines)
    with Ledger(tmp_path / "ledger.db") as ledger:
        run_scan(ledger, home)
        assert [e.input_tokens for e in ledger.events()] == [100, 200, 300, 400]
        carry = ledger.scan_cursors()[str(path)].carry or {}
        pair = carry["parser"]["windows"]["/primary"]
        assert [row["used_percent"] for row in pair] == [10.0, 30.0]
        assert file_codex_readings(ledger) == 2
        assert file_codex_readings(ledger) == 0  # filed once
        # The next period of the window (its use fell) starts a new pair.
        later = _us("2026-03-02T19:00:00.000Z") // 1_000_000
        more = [
            token_count("2026-03-02T14:05:00.000Z", tokens(1100, 100), absolute_limits(1.0, later))
        ]
        write_jsonl(path, more, mode="a")
        run_scan(ledger, home)
        pair = (ledger.scan_cursors()[str(path)].carry or {})["parser"]["windows"]["/primary"]
        assert [row["used_percent"] for row in pair] == [1.0, 1.0]
        assert file_codex_readings(ledger) == 1
        readings = ledger.rate_windows(source="codex")
        assert [r.used_percent for r in readings] == [10.0, 30.0, 1.0]


def test_forecast_from_the_pace_of_the_period() -> None:
    resets = _us("2026-03-02T14:00:00.000Z")

    def reading(at: str, percent: float) -> RateWindow:
        return RateWindow("codex", "primary", _us(at), percent, 300, resets)

    readings = [
        reading("2026-03-02T10:00:00.000Z", 10.0),
        reading("2026-03-02T11:00:00.000Z", 30.0),
    ]
    [status] = latest_windows(readings, _us("2026-03-02T11:00:00.000Z"))
    assert status.label == "5-hour"
    assert status.percent_per_hour == 20.0
    # 70 points left at 20 per hour: 3.5 hours after 11:00, after the 14:00 reset.
    assert status.full_at_us is None
    assert status.at_reset_percent == 90.0
    faster = [*readings, reading("2026-03-02T12:00:00.000Z", 70.0)]
    [status] = latest_windows(faster, _us("2026-03-02T12:00:00.000Z"))
    assert status.percent_per_hour == 30.0
    assert status.full_at_us == _us("2026-03-02T13:00:00.000Z")
    # After the reset time the reading is stale: no forecast.
    [status] = latest_windows(faster, _us("2026-03-02T14:00:01.000Z"))
    assert status.stale and status.full_at_us is None and status.at_reset_percent is None


def test_one_reading_forecasts_from_the_period_start() -> None:
    resets = _us("2026-03-02T14:00:00.000Z")
    one = RateWindow("claude-code", "five_hour", _us("2026-03-02T11:00:00.000Z"), 60.0, 300, resets)
    [status] = latest_windows([one], _us("2026-03-02T11:00:00.000Z"))
    # The period began at 09:00: 60 points in 2 hours, 30 an hour, 100 % at 12:20.
    assert status.percent_per_hour == 30.0
    assert status.full_at_us == _us("2026-03-02T12:20:00.000Z")
    assert status.as_json()["forecast"]["reaches100At"] == "2026-03-02T12:20:00Z"
    assert status.as_json()["official"] is True

"""The ledger keeps rate-window readings: idempotent by (source, limit, window, time), read back
oldest first, filtered by time and source, and kept across reopening it; on every backend."""

from __future__ import annotations

from llmledger.ledger import Ledger
from llmledger.rate_windows import RateWindow


def _reading(observed_us: int, percent: float, window: str = "primary") -> RateWindow:
    return RateWindow(
        source="codex",
        window=window,
        observed_us=observed_us,
        used_percent=percent,
        window_minutes=300 if window == "primary" else 10080,
        resets_at_us=observed_us + 3_600_000_000,
        plan="plus",
        session_id="s1",
    )


def test_readings_are_kept_once_and_read_back_in_time_order(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        first = [_reading(2_000, 12.5), _reading(1_000, 10.0), _reading(1_000, 40.0, "secondary")]
        assert ledger.record_rate_windows(first) == 3
        assert ledger.record_rate_windows([_reading(1_000, 10.0), _reading(3_000, 13.0)]) == 1
    with Ledger(ledger_url) as ledger:
        readings = ledger.rate_windows()
        assert [(r.observed_us, r.window, r.used_percent) for r in readings] == [
            (1_000, "primary", 10.0),
            (1_000, "secondary", 40.0),
            (2_000, "primary", 12.5),
            (3_000, "primary", 13.0),
        ]
        assert readings[0] == _reading(1_000, 10.0)
        assert [r.observed_us for r in ledger.rate_windows(since_us=2_000)] == [2_000, 3_000]
        assert ledger.rate_windows(source="claude-code") == []
        assert ledger.record_rate_windows([]) == 0


def test_a_reading_without_optional_fields_round_trips(ledger_url: str) -> None:
    bare = RateWindow(source="claude-code", window="five_hour", observed_us=5, used_percent=105.0)
    with Ledger(ledger_url) as ledger:
        ledger.record_rate_windows([bare])
        assert ledger.rate_windows(source="claude-code") == [bare]

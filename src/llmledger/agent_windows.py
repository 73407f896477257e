"""The agents' official usage-limit windows, as ``llmledger quota`` (and the statusline and the
live view) show them: filed in the ledger from where the agents report them, then the latest
reading per window with its reset time and a forecast of when the current pace reaches 100 %.

Codex's readings travel in its scan cursors' carried state (sources/codex.py keeps, per window,
the first reading of the current period and the latest one); ``file_codex_readings`` copies
them into the ledger's ``rate_windows`` table. Claude Code's arrive on a statusline command's
stdin (cli/statusline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from llmledger.ledger import Ledger
from llmledger.rate_windows import RateWindow

__all__ = [
    "LOOKBACK_US",
    "WindowStatus",
    "current_windows",
    "file_codex_readings",
    "latest_windows",
    "window_label",
]

US_PER_MINUTE = 60_000_000
# Below this span between two readings a pace is noise: the forecast uses the whole period.
MIN_PACE_SPAN_US = 5 * US_PER_MINUTE
# A period starts at its reset time minus the window; readings before it are another period.
WINDOW_NAMES = {300: "5-hour", 10080: "weekly"}
# Readings older than this are not shown (a weekly window's last reading is at most a week old).
LOOKBACK_US = 8 * 24 * 60 * US_PER_MINUTE


def window_label(reading: RateWindow) -> str:
    """``5-hour`` / ``weekly`` from the window's length (or the agent's own name)."""
    minutes = reading.window_minutes
    if minutes is not None:
        # Codex has written 299 and 10079 for the same windows.
        for length, name in WINDOW_NAMES.items():
            if abs(minutes - length) <= 1:
                return name
        return f"{minutes // 60}-hour" if minutes % 60 == 0 else f"{minutes}-minute"
    return {"five_hour": "5-hour", "seven_day": "weekly"}.get(reading.window, reading.window)


def _from_row(row: Mapping[str, Any]) -> RateWindow | None:
    try:
        return RateWindow(
            source=str(row["source"]),
            window=str(row["window"]),
            observed_us=int(row["observed_us"]),
            used_percent=float(row["used_percent"]),
            window_minutes=row.get("window_minutes"),
            resets_at_us=row.get("resets_at_us"),
            limit_id=str(row.get("limit_id") or ""),
            plan=row.get("plan"),
            session_id=row.get("session_id"),
        )
    except (KeyError, TypeError, ValueError):
        return None  # a carried state written by another version: nothing to file


def file_codex_readings(ledger: Ledger) -> int:
    """File the readings kept in Codex's scan cursors into the ledger; returns how many were
    new. Run after a scan."""
    readings: list[RateWindow] = []
    for cursor in ledger.scan_cursors().values():
        if cursor.source != "codex":
            continue
        state = (cursor.carry or {}).get("parser")  # the parser's carried state
        kept = state.get("windows") if isinstance(state, dict) else None
        if not isinstance(kept, dict):
            continue
        for pair in kept.values():
            for row in pair if isinstance(pair, list) else ():
                reading = _from_row(row) if isinstance(row, dict) else None
                if reading is not None:
                    readings.append(reading)
    return ledger.record_rate_windows(readings) if readings else 0


@dataclass(frozen=True)
class WindowStatus:
    """One window's latest official reading and where its pace leads."""

    latest: RateWindow
    label: str  # "5-hour", "weekly"
    percent_per_hour: float | None  # the pace, official percent points per hour
    full_at_us: int | None  # when the pace reaches 100 % before the reset (None: it does not)
    at_reset_percent: float | None  # where the pace leads by the reset time
    stale: bool  # the reset time has passed since the reading: the window has restarted

    def as_json(self) -> dict[str, Any]:
        r = self.latest
        return {
            "source": r.source,
            "limitId": r.limit_id or None,
            "window": r.window,
            "label": self.label,
            "windowMinutes": r.window_minutes,
            "usedPercent": r.used_percent,
            "resetsAt": _iso(r.resets_at_us),
            "observedAt": _iso(r.observed_us),
            "plan": r.plan,
            "official": True,
            "stale": self.stale,
            "forecast": {
                "estimate": True,
                "percentPerHour": _round(self.percent_per_hour),
                "reaches100At": _iso(self.full_at_us),
                "percentAtReset": _round(self.at_reset_percent),
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    moment = datetime.fromtimestamp(us / 1_000_000, timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _same_period(first: RateWindow, last: RateWindow) -> bool:
    if first.used_percent > last.used_percent + 0.5:
        return False
    a, b = first.resets_at_us, last.resets_at_us
    return a is None or b is None or abs(a - b) <= 5 * US_PER_MINUTE


def _pace(readings: list[RateWindow]) -> float | None:
    """Percent points per microsecond over the latest reading's period."""
    last = readings[-1]
    period = [r for r in readings if _same_period(r, last)]
    first = period[0]
    if last.observed_us - first.observed_us >= MIN_PACE_SPAN_US:
        return (last.used_percent - first.used_percent) / (last.observed_us - first.observed_us)
    if last.resets_at_us is not None and last.window_minutes:
        start = last.resets_at_us - last.window_minutes * US_PER_MINUTE
        if last.observed_us - start >= MIN_PACE_SPAN_US:  # the average since the period began
            return last.used_percent / (last.observed_us - start)
    return None


def status_of(readings: list[RateWindow], now_us: int) -> WindowStatus:
    """The status of one window from its readings (oldest first)."""
    last = readings[-1]
    pace = _pace(readings)
    full_at = at_reset = None
    stale = last.resets_at_us is not None and last.resets_at_us <= now_us
    if pace is not None and not stale:
        if pace > 0 and last.used_percent < 100:
            full_at = last.observed_us + round((100 - last.used_percent) / pace)
            if last.resets_at_us is not None and full_at >= last.resets_at_us:
                full_at = None
        elif last.used_percent >= 100:
            full_at = last.observed_us
        if last.resets_at_us is not None:
            at_reset = last.used_percent + pace * (last.resets_at_us - last.observed_us)
    return WindowStatus(
        latest=last,
        label=window_label(last),
        percent_per_hour=None if pace is None else pace * 3_600_000_000,
        full_at_us=full_at,
        at_reset_percent=at_reset,
        stale=stale,
    )


def latest_windows(readings: Iterable[RateWindow], now_us: int) -> list[WindowStatus]:
    """Each window's status (per agent, limit and window), agents by name, shorter windows
    first."""
    grouped: dict[tuple[str, str, str], list[RateWindow]] = {}
    for reading in sorted(readings, key=lambda r: r.observed_us):
        grouped.setdefault((reading.source, reading.limit_id, reading.window), []).append(reading)
    statuses = [status_of(group, now_us) for group in grouped.values()]
    return sorted(
        statuses,
        key=lambda s: (s.latest.source, s.latest.limit_id, s.latest.window_minutes or 0),
    )


def current_windows(ledger: Ledger, now_us: int) -> list[WindowStatus]:
    """Each agent's latest official windows as of ``now_us`` (readings of the last
    ``LOOKBACK_US``), as ``llmledger quota`` and the dashboard show them."""
    return latest_windows(ledger.rate_windows(since_us=now_us - LOOKBACK_US), now_us)

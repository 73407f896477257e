"""Official usage-limit windows as the agents report them (not usage: readings of a meter the
agent's vendor keeps).

Codex writes ``rate_limits`` on its ``token_count`` events (a primary window, usually 5 hours,
and a secondary one, usually a week); Claude Code passes ``rate_limits`` (``five_hour`` and
``seven_day``) to statusline commands. Each reading becomes a ``RateWindow``; the ledger keeps
them (``RateWindowStorage``, a part of the Store protocol) so ``llmledger quota`` can show the
latest one per window and forecast when the current pace reaches 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import msgspec

__all__ = ["RateWindow", "RateWindowStorage"]


# A msgspec Struct, not a dataclass: every run loads this module, and a dataclass costs ~3.5 M
# instructions to create at import (a Struct ~0.1 M).
class RateWindow(msgspec.Struct, frozen=True):
    """One reading of one official window."""

    source: str  # the agent: "codex", "claude-code"
    window: str  # the agent's name for it: "primary", "secondary", "five_hour", "seven_day"
    observed_us: int  # when the agent reported it, UTC microseconds
    used_percent: float  # 0-100 (a window can report more than 100 once it is exceeded)
    window_minutes: int | None = None  # the window's length, when known
    resets_at_us: int | None = None  # when it resets, UTC microseconds, when known
    limit_id: str = ""  # the agent's limit id when it has several (Codex's ``limit_id``)
    plan: str | None = None  # the plan the agent names (Codex's ``plan_type``)
    session_id: str | None = None  # the session the reading came with


class RateWindowStorage(Protocol):
    """How a Store keeps rate-window readings (store/rate_windows.py for SQLite)."""

    def record_rate_windows(self, readings: Iterable[RateWindow]) -> int:
        """Keep readings (a reading already kept, same source, limit, window and time, is
        ignored); returns how many were new."""
        ...

    def rate_windows(
        self, *, since_us: int | None = None, source: str | None = None
    ) -> list[RateWindow]:
        """Readings observed at or after ``since_us`` (all when None), oldest first."""
        ...

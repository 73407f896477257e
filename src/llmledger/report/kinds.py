"""The report kinds, declared once: each kind's row key in JSON and CSV, its first column's
title in tables, the one-line help of its command, and whether its rows follow the calendar.

Everything that lists report kinds (the CLI's commands, the renderers, ``Ledger.report_for``)
reads this table.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["KINDS", "KindInfo", "ReportKind"]

ReportKind = Literal["daily", "weekly", "monthly", "models", "sessions"]


# A msgspec Struct, not a dataclass: every report loads this module, and a dataclass costs
# ~3.5 M instructions to create at import (a Struct ~0.1 M).
class KindInfo(msgspec.Struct, frozen=True):
    key_field: str  # the row's key in JSON and CSV, as ccusage names it
    key_header: str  # the first column's title in tables
    summary: str  # the command's one-line help
    dated: bool  # rows follow the calendar (sessions: by last activity): --order applies


KINDS: dict[ReportKind, KindInfo] = {
    "daily": KindInfo("date", "Date", "usage per day (in --tz, default the local zone)", True),
    "weekly": KindInfo("week", "Week", "usage per week (weeks start on Monday)", True),
    "monthly": KindInfo("month", "Month", "usage per calendar month", True),
    "models": KindInfo("model", "Model", "usage per model over the whole window", False),
    "sessions": KindInfo(
        "sessionId",
        "Session",
        "usage per session (agent session or --session of recorded events)",
        True,
    ),
}

"""``usage``: a user's (or an org's) meter in the terminal: a bar, used of the limit, the plan,
the add-ons and when the month resets; ``--json`` prints the usage API's summary object."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from llmledger.cli.common import Parents, UsageError, emit, open_ledger
from llmledger.cli.quota_common import (
    amount_text,
    json_option,
    number_text,
    print_json,
    said,
    who,
    who_options,
)
from llmledger.quota.periods import month_at

BAR = 40

DESCRIPTION = """\
The meter of a user (or an org) for this month: how much of the plan and its add-ons is used,
what is left and when the month resets, as the usage API (GET /api/account/usage) shows it.
"""

EPILOG = """\
examples:
  llmledger usage --user alice
  llmledger usage --org acme --month 2026-01     a month that has ended
  llmledger usage --user alice --json            {"month": ..., "used": ..., "limit": ...}
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "usage",
        help="a user's or an org's meter: used of the plan, add-ons, reset date",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    who_options(parser)
    parser.add_argument("--month", metavar="YYYY-MM", help="another month (default: this one)")
    json_option(parser)
    parser.set_defaults(handler=run_usage, ledger_access="read")


def _moment(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The last moment of month ``text`` that has come (now, for this month)."""
    found = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not found or not 1 <= int(found[2]) <= 12:
        raise UsageError(f"--month {text!r} is not a month: use YYYY-MM, e.g. 2026-01")
    first = datetime(int(found[1]), int(found[2]), 15, tzinfo=zone)
    month = month_at(first, zone)
    if month.start > now:
        raise UsageError(f"--month {text} has not started yet")
    return min(now, month.end - timedelta(microseconds=1))


def bar(percent: float) -> str:
    filled = min(BAR, round(percent * BAR / 100))
    return "█" * filled + "░" * (BAR - filled)


def meter_text(summary: dict[str, Any], whom: str, zone: ZoneInfo) -> str:
    unit = summary["unit"]
    resets = datetime.strptime(summary["resetsAt"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=ZoneInfo("UTC")
    )
    percent = summary["percent"]
    lines = [
        f"{whom}: plan {summary['plan']}, {summary['month']}",
        f"{bar(percent)}  {percent:g}%",
        f"used       {number_text(summary['used'], unit)} of {amount_text(summary['limit'], unit)}"
        + (f", {number_text(summary['remaining'], unit)} left" if summary["remaining"] else ""),
        f"add-ons    {amount_text(summary['addOn'], unit)} this month",
    ]
    if summary["overage"]:
        over = amount_text(summary["overage"], unit)
        if summary["hasAccess"]:
            lines.append(f"over by    {over} (the plan allows overage)")
        else:
            lines.append(f"over by    {over}: requests are refused until it resets")
    elif not summary["hasAccess"]:
        lines.append("used up:   requests are refused until it resets")
    local = resets.astimezone(zone)
    lines.append(f"resets     {local:%Y-%m-%d %H:%M} {zone.key}")
    return "\n".join(lines)


def run_usage(args: argparse.Namespace) -> int:
    user, org = who(args)
    with open_ledger(args) as ledger:
        book = ledger.quotas
        zone = book.quotas.zone
        at = _moment(args.month, zone, book.now()) if args.month else None
        summary = book.summary(user, org, at)
    if args.json:
        print_json(summary)
        return 0
    emit(meter_text(summary, said(user, org), zone))
    return 0

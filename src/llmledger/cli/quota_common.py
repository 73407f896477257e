"""What the quota commands (plans, addons, budgets, usage) share: who a command is about
(``--user`` or ``--org``), token and USD amounts read strictly, dates in the quota zone, and a
plain table that fits 80 columns."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from llmledger.cli.common import UsageError, emit, parse_day
from llmledger.cli.display import shorten_middle
from llmledger.events import MAX_TOKENS

WIDTH = 80
_GAP = "  "


def who_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--user U`` or ``--org O`` (one of them)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--user", metavar="USER", help="a user id (as events and keys carry it)")
    group.add_argument("--org", metavar="ORG", help="an organisation id")


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON output")


def who(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The (user_id, org_id) a command names, checked."""
    user = _name(args.user, "--user") if args.user is not None else None
    org = _name(args.org, "--org") if args.org is not None else None
    return user, org


def said(user: str | None, org: str | None) -> str:
    """``user alice`` / ``org acme``."""
    return f"user {user}" if user else f"org {org}"


def subject_words(subject: str) -> str:
    """``user:alice`` as ``user alice``."""
    kind, _, ident = subject.partition(":")
    return f"{kind} {ident}"


def _name(value: str, option: str) -> str:
    value = value.strip()
    if not value or len(value) > 256 or not value.isprintable():
        raise UsageError(f"{option} must be 1-256 printable characters")
    return value


def token_count(text: str) -> int:
    """A whole number of tokens above 0 (``50000``, ``50_000`` and ``50,000`` alike)."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    try:
        value = int(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of tokens") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} tokens: give a number above 0")
    if value > MAX_TOKENS:
        raise argparse.ArgumentTypeError(f"{text} tokens is beyond any real usage")
    return value


def usd_amount(text: str) -> int:
    """A USD amount above 0 (``2.50``), as nano-USD."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD (e.g. 2.50)") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} USD: give an amount above 0")
    if value > 10**9:
        raise argparse.ArgumentTypeError(f"{text} USD is beyond any real budget")
    return int(value * 10**9)


def end_of_day(text: str, option: str, zone: ZoneInfo, now: datetime) -> datetime:
    """``--expires DATE``: the end of DATE in the quota zone (the add-on counts all that day);
    a UsageError for a date that is not one or has passed."""
    day = parse_day(text, option)
    moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    if moment <= now:
        raise UsageError(f"{option} {day.isoformat()} has passed: give a later date")
    return moment.astimezone(timezone.utc)


def local_day(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).date().isoformat()


def last_day(moment: datetime | None, zone: ZoneInfo) -> str:
    """The last local day an expiry at ``moment`` leaves valid (its day before, at midnight)."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    day: date = local.date()
    if local.time() == time(0):
        day -= timedelta(days=1)
    return day.isoformat()


def amount_text(value: int | float, unit: str) -> str:
    """``50,000 tokens`` or ``$2.50``."""
    if unit == "usd":
        return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.6f}".rstrip("0")
    return f"{value:,} tokens"


def number_text(value: int | float, unit: str) -> str:
    """A table cell: ``50,000`` or ``$2.50``."""
    return amount_text(value, unit).removesuffix(" tokens")


def print_json(data: Any) -> None:
    emit(json.dumps(data, indent=2, ensure_ascii=False))


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    shrink: Sequence[int] = (),
    width: int = WIDTH,
) -> str:
    """Aligned columns (``right``: right-aligned) at most ``width`` wide: the columns in
    ``shrink`` give up characters (shortened in the middle) until the table fits."""
    widths = [max(len(str(row[i])) for row in (headers, *rows)) for i in range(len(headers))]
    over = sum(widths) + len(_GAP) * (len(widths) - 1) - width
    for column in shrink:
        if over <= 0:
            break
        floor = max(len(headers[column]), 8)
        cut = min(over, max(0, widths[column] - floor))
        widths[column] -= cut
        over -= cut

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            text = shorten_middle(str(cell), widths[i])
            parts.append(text.rjust(widths[i]) if i in right else text.ljust(widths[i]))
        return _GAP.join(parts).rstrip()

    return "\n".join(line(row) for row in (headers, *rows))

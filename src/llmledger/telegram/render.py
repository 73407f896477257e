"""The bot's replies as text (pure functions over ``Ledger.summary`` and the usage meter).

Reports are monospace tables 40 characters wide, which a phone shows without wrapping:
one row per model and day, compact counts (``12.3K``), the cost of an unpriced model as
``?`` and the model named under the table. A report longer than one Telegram message (4,096
characters) is split between rows, each part with the title and the column header again.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

MESSAGE_LIMIT = 4096
MAX_DAYS = 366
MODEL_WIDTH = 14
_HEADER = f"{'MODEL':<{MODEL_WIDTH}} {'IN':>5} {'OUT':>5} {'TOTAL':>5} {'COST':>7}"
WIDTH = len(_HEADER)

__all__ = [
    "MAX_DAYS",
    "MESSAGE_LIMIT",
    "bad_days",
    "count",
    "help_text",
    "meter_text",
    "models_messages",
    "refusal",
    "split_messages",
    "today_messages",
    "token_usage_messages",
    "usd",
]


def count(value: int) -> str:
    """At most 5 characters (below a trillion): 9,999 / 12.3K / 310K / 1.23M / 4.56B."""
    if value < 10_000:
        return f"{value:,}"
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if value >= size:
            scaled = value / size
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{scaled:.{digits}f}{suffix}"
    return str(value)  # pragma: no cover - every value >= 10,000 has a suffix


def usd(value: float, priced: bool = True) -> str:
    """At most 7 characters: $0, <$0.01, $12.34, $1,234."""
    if not priced:
        return "?"
    if value == 0:
        return "$0"
    if value < 0.01:
        return "<$0.01"
    if value < 1_000:
        return f"${value:.2f}"
    return f"${value:,.0f}"


def _row(name: str, row: Mapping[str, Any], cost: float, priced: bool) -> str:
    """One row; a model name too long for its column gets a line of its own above the
    numbers (the two lines are one row: never split between messages)."""
    numbers = (
        f"{count(row['inputTokens']):>5} {count(row['outputTokens']):>5} "
        f"{count(row['totalTokens']):>5} {usd(cost, priced):>7}"
    )
    if len(name) <= MODEL_WIDTH:
        return f"{name:<{MODEL_WIDTH}} {numbers}"
    return f"{name}\n{'':<{MODEL_WIDTH}} {numbers}"


def _rule(label: str) -> str:
    return f"{label} ".ljust(WIDTH, "─")


def _footer(summary: Mapping[str, Any]) -> list[str]:
    totals = summary["totals"]
    unpriced = summary["unpricedModels"]
    lines = [
        _rule("TOTAL"),
        _row("all", totals, totals["totalCost"], True) + ("*" if unpriced else ""),
        f"{totals['requests']:,} requests; TOTAL = in + out + cache",
    ]
    if unpriced:
        lines.append("* unpriced, cost not included: " + ", ".join(unpriced))
    return lines


def _period(summary: Mapping[str, Any]) -> str:
    return f"{summary['since']} to {summary['until']} ({summary['timezone']})"


def token_usage_messages(summary: Mapping[str, Any]) -> list[str]:
    """``/token_usage``: per day and per model, then per model, then the totals."""
    days = summary["days"]
    title = [f"Token usage, last {days} day{'s' if days != 1 else ''}", _period(summary)]
    blocks: list[list[str]] = []
    for day in summary["daily"]:
        block = [_rule(day["date"])]
        for model in day["modelBreakdowns"]:
            block.append(_row(model["modelName"], model, model["cost"], model["priced"]))
        blocks.append(block)
    if not blocks:
        blocks.append(["no usage recorded in these days"])
    else:
        blocks.append([_rule("BY MODEL"), *_model_rows(summary)])
    blocks.append(_footer(summary))
    return split_messages(title, blocks)


def _model_rows(summary: Mapping[str, Any]) -> list[str]:
    unpriced = set(summary["unpricedModels"])
    return [
        _row(m["model"], m, m["totalCost"], m["model"] not in unpriced) for m in summary["models"]
    ]


def models_messages(summary: Mapping[str, Any]) -> list[str]:
    """``/models``: one row per model over the window, then the totals."""
    days = summary["days"]
    title = [f"Models, last {days} day{'s' if days != 1 else ''}", _period(summary)]
    rows = _model_rows(summary)
    blocks = [[row] for row in rows] or [["no usage recorded in these days"]]
    return split_messages(title, [*blocks, _footer(summary)])


def today_messages(summary: Mapping[str, Any]) -> list[str]:
    """``/today``: today's rows per model and the totals."""
    title = [f"Today, {summary['until']} ({summary['timezone']})"]
    rows = _model_rows(summary)
    blocks = [[row] for row in rows] or [["no usage recorded today"]]
    return split_messages(title, [*blocks, _footer(summary)])


def _pre(lines: Sequence[str]) -> str:
    return "<pre>" + html.escape("\n".join(lines), quote=False) + "</pre>"


def split_messages(
    title: Sequence[str], blocks: Sequence[Sequence[str]], limit: int = MESSAGE_LIMIT
) -> list[str]:
    """Messages of at most ``limit`` characters, each ``<pre>`` title, header and whole
    blocks of rows (a block that does not fit one message alone is cut between its rows,
    never in one: a row may hold two lines). Parts are numbered "(2/3)" when there are more."""
    head = [*title, "", _HEADER]
    budget = limit - len(_pre(head)) - len(" (99/99)") - 1

    def size(lines: Sequence[str]) -> int:
        return sum(len(html.escape(line, quote=False)) + 1 for line in lines)

    units: list[list[str]] = []
    for block in blocks:
        if size(block) <= budget:
            units.append(list(block))
        else:
            units.extend([line] for line in block)
    parts: list[list[str]] = [[]]
    used = 0
    for unit in units:
        if parts[-1] and used + size(unit) > budget:
            parts.append([])
            used = 0
        parts[-1].extend(unit)
        used += size(unit)
    if len(parts) == 1:
        return [_pre([*head, *parts[0]])]
    total = len(parts)
    return [
        _pre([f"{title[0]} ({index}/{total})", *title[1:], "", _HEADER, *part])
        for index, part in enumerate(parts, 1)
    ]


def meter_text(summary: Mapping[str, Any], who: str) -> str:
    """``/usage``: a linked user's meter this month (the usage API's summary)."""
    unit = summary["unit"]

    def amount(value: float) -> str:
        return f"${value:,.2f}" if unit == "usd" else f"{int(value):,} tokens"

    percent = summary["percent"]
    filled = min(20, round(percent * 20 / 100))
    lines = [
        f"{who}: plan {summary['plan']}, {summary['month']}",
        "█" * filled + "░" * (20 - filled) + f" {percent:g}%",
        f"used     {amount(summary['used'])} of {amount(summary['limit'])}",
        f"left     {amount(summary['remaining'])}",
        f"add-ons  {amount(summary['addOn'])} this month",
    ]
    if not summary["hasAccess"]:
        lines.append("used up: requests are refused until it resets")
    lines.append(f"resets   {summary['resetsAt'].replace('T', ' ').replace('Z', ' UTC')}")
    return _pre(lines)


ADMIN_HELP = """\
/token_usage [days]  tokens and cost per day and model (default 30 days)
/today  today's usage per model
/models [days]  usage per model (default 30 days)
/usage  your own meter (when your Telegram id is linked to a ledger user)
/help  this list"""

USER_HELP = """\
/usage  your meter this month: used, left, when it resets
/help  this list"""


def help_text(admin: bool) -> str:
    return ADMIN_HELP if admin else USER_HELP


def refusal(user_id: int | None) -> str:
    """For anyone who is neither an admin nor a linked user; names no command."""
    who = "" if user_id is None else f" (your Telegram user id is {user_id})"
    return (
        "Sorry, this bot only answers the people its owner has set up"
        f"{who}. If you should have access, please ask them to add you."
    )


def bad_days(command: str, given: str) -> str:
    return (
        f"{given!r} is not a number of days. Usage: /{command} [days], "
        f"a whole number from 1 to {MAX_DAYS} (default 30)."
    )


def parse_days(args: Sequence[str], default: int = 30) -> int | None:
    """The ``[days]`` argument: ``default`` when absent, None when it is not 1 to MAX_DAYS."""
    if not args:
        return default
    if len(args) > 1 or not args[0].isdigit():
        return None
    days = int(args[0])
    return days if 1 <= days <= MAX_DAYS else None

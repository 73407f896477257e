"""``budgets``: limits beyond the plans, on a key, a user, an org or a model, per day, week,
month or all time, in tokens and/or USD. A hard budget makes the gateway refuse requests once
it is reached; every budget raises alerts at its thresholds."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from llmledger.cli.common import Parents, UsageError, emit, open_ledger
from llmledger.cli.quota_common import (
    amount_text,
    json_option,
    number_text,
    print_json,
    table,
    token_count,
    usd_amount,
)
from llmledger.errors import LedgerError
from llmledger.quota.records import Budget, Scope

DESCRIPTION = """\
A budget limits what a key, a user, an org or a model may use per day, week (Monday to Sunday),
month or in total, in tokens and/or USD, in the quota time zone. The gateway refuses requests
once a hard budget is reached (before calling the upstream); a --soft budget only raises
alerts. Alerts fire once per threshold and window, and resolve when usage falls below again.
"""

EPILOG = """\
examples:
  llmledger budgets add --user alice --tokens 200000 --window day
  llmledger budgets add --key key_ab12 --usd 50 --window month
  llmledger budgets add --model gpt-5 --usd 100 --window week --soft --alert-at 50,90
  llmledger budgets list
  llmledger budgets remove bud_1a2b3c
"""

_WINDOWS = ("day", "week", "month", "total")
_PER = {"day": "a day", "week": "a week", "month": "a month", "total": "in total"}


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "budgets",
        help="token and USD limits per key, user, org or model",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    sub = parser.add_subparsers(dest="budgets_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True

    add = sub.add_parser("add", help="add a budget", parents=[parents.globals])
    scope = add.add_mutually_exclusive_group(required=True)
    for name in ("key", "user", "org", "model"):
        scope.add_argument(f"--{name}", metavar=name.upper(), help=f"the {name} it limits")
    add.add_argument("--tokens", type=token_count, metavar="N", help="token limit")
    add.add_argument("--usd", type=usd_amount, metavar="AMOUNT", help="cost limit in USD")
    add.add_argument("--window", choices=_WINDOWS, default="month", help="default: month")
    add.add_argument(
        "--soft", action="store_true", help="only alert; never refuse requests (default: hard)"
    )
    add.add_argument(
        "--alert-at",
        type=_thresholds,
        default=(80, 100),
        metavar="P,P",
        help="percentages that raise an alert (default: 80,100)",
    )
    add.add_argument("--id", dest="budget_id", metavar="ID", help="its id (default: bud_…)")
    add.add_argument("--note", help="a note to recognise it by")
    json_option(add)
    add.set_defaults(handler=run_add)

    listing = sub.add_parser(
        "list", help="budgets and what is used of them now", parents=[parents.globals]
    )
    json_option(listing)
    listing.set_defaults(handler=run_list, ledger_access="read")

    remove = sub.add_parser("remove", help="remove a budget by id", parents=[parents.globals])
    remove.add_argument("budget_id", metavar="ID", help="the id 'budgets list' shows")
    remove.set_defaults(handler=run_remove)


def _thresholds(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give percentages like 80,100") from None
    if not values or any(not 1 <= v <= 1000 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give percentages from 1 to 1000")
    return tuple(sorted(set(values)))


def _scope(args: argparse.Namespace) -> tuple[Scope, str]:
    scopes: tuple[Scope, ...] = ("key", "user", "org", "model")
    for name in scopes:
        value = getattr(args, name)
        if value is not None:
            if not value.strip() or len(value) > 256 or not value.isprintable():
                raise UsageError(f"--{name} must be 1-256 printable characters")
            return name, value.strip()
    raise UsageError("name what the budget limits: --key, --user, --org or --model")


def _limits_words(budget: Budget) -> str:
    parts = []
    if budget.tokens is not None:
        parts.append(amount_text(budget.tokens, "tokens"))
    if budget.cost_nanos is not None:
        parts.append(amount_text(budget.cost_nanos / 10**9, "usd"))
    return " and ".join(parts) + " " + _PER[budget.window]


def run_add(args: argparse.Namespace) -> int:
    if args.tokens is None and args.usd is None:
        raise UsageError("give a limit: --tokens N, --usd AMOUNT, or both")
    scope, scope_id = _scope(args)
    budget = Budget(
        id=args.budget_id or f"bud_{uuid.uuid4().hex[:10]}",
        scope=scope,
        scope_id=scope_id,
        window=args.window,
        tokens=args.tokens,
        cost_nanos=args.usd,
        thresholds=args.alert_at,
        hard=not args.soft,
        note=args.note,
    )
    with open_ledger(args) as ledger:
        stored = ledger.quotas.add_budget(budget)
        rows = [r for r in ledger.quotas.budget_status() if r["id"] == stored.id]
    if args.json:
        print_json(rows)
        return 0
    enforced = (
        "hard: requests are refused once it is reached"
        if stored.hard
        else "soft: it only raises alerts"
    )
    alerts = ", ".join(f"{t}%" for t in stored.thresholds)
    emit(
        f"added budget {stored.id}: {_limits_words(stored)} for {scope} {scope_id}\n"
        f"{enforced}; alerts at {alerts}"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_ledger(args) as ledger:
        rows = ledger.quotas.budget_status()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        emit("no budgets yet: llmledger budgets add --user USER --tokens N --window day")
        return 0
    cells = [
        (
            r["id"],
            f"{r['scope']} {r['scopeId']}",
            r["windowKey"] if r["window"] != "total" else "total",
            number_text(r["limit"], r["unit"]),
            number_text(r["used"], r["unit"]),
            f"{r['percent']:g}%",
            "hard" if r["hard"] else "soft",
        )
        for r in rows
    ]
    headers = ("ID", "LIMITS", "WINDOW", "LIMIT", "USED", "USED %", "KIND")
    emit(table(headers, cells, right=(3, 4, 5), shrink=(1, 0)))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    with open_ledger(args) as ledger:
        if not ledger.quotas.remove_budget(args.budget_id):
            raise LedgerError(f"no budget with id {args.budget_id!r}: see 'llmledger budgets list'")
    emit(f"removed budget {args.budget_id}")
    return 0

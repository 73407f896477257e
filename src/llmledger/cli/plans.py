"""``plans``: the monthly plans of the config, and who is on which.

Plans come from the config (``[plans.NAME]``; four by default); ``plans set`` puts a user or an
org on one, everyone else is on ``[quotas] default_plan``.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmledger.cli.common import Parents, UsageError, emit, open_ledger
from llmledger.cli.quota_common import (
    json_option,
    print_json,
    said,
    subject_words,
    table,
    who,
    who_options,
)
from llmledger.quota.plans import Plan, Quotas

DESCRIPTION = """\
A plan is a monthly allowance of tokens (or of USD, with [quotas] counts = "cost"): the gateway
refuses a user's requests once their month is used, unless the plan has overage = "allow".
Plans are defined in the config; users and orgs without a plan of their own are on the default
plan. Months are calendar months in [quotas] timezone (UTC by default).
"""

EPILOG = """\
examples:
  llmledger plans list
  llmledger plans show starter
  llmledger plans set --user alice --plan starter
  llmledger plans set --org acme --plan business     every member's requests count for acme
  llmledger plans unset --user alice                 back on the default plan

in the config (TOML):
  [quotas]
  default_plan = "hobby"
  timezone = "Europe/Berlin"

  [plans.team]
  tokens = 20000000
  multiplier = 1        # 2: each token counts twice
  overage = "allow"     # requests go on past the limit; the meter counts the overage
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "plans",
        help="monthly plans and who is on which",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    sub = parser.add_subparsers(dest="plans_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True

    listing = sub.add_parser(
        "list",
        help="the plans, their allowances and how many are on each",
        parents=[parents.globals],
    )
    json_option(listing)
    listing.set_defaults(handler=run_list, ledger_access="read")

    show = sub.add_parser("show", help="one plan and who is on it", parents=[parents.globals])
    show.add_argument("name", metavar="PLAN", help="a plan's name (see 'plans list')")
    json_option(show)
    show.set_defaults(handler=run_show, ledger_access="read")

    assign = sub.add_parser("set", help="put a user or an org on a plan", parents=[parents.globals])
    who_options(assign)
    assign.add_argument("--plan", required=True, metavar="PLAN", help="the plan's name")
    assign.set_defaults(handler=run_set)

    unset = sub.add_parser(
        "unset", help="put a user or an org back on the default plan", parents=[parents.globals]
    )
    who_options(unset)
    unset.set_defaults(handler=run_unset)


def _allowance(quotas: Quotas, plan: Plan) -> str:
    if quotas.settings.counts == "cost":
        return f"${plan.usd:,.2f}"
    return f"{plan.tokens:,}"


def _counts_words(quotas: Quotas) -> str:
    return {
        "total": "total tokens (input, output, cache reads and writes)",
        "input+output": "input + output tokens",
        "cost": "cost in USD",
    }[quotas.settings.counts]


def _on_plans(assignments: dict[str, str], quotas: Quotas) -> dict[str, list[str]]:
    """Subjects by the plan they are on (assignments to a plan no longer configured count
    for the default plan)."""
    found: dict[str, list[str]] = {name: [] for name in quotas.plans}
    for subject, plan in sorted(assignments.items()):
        found[quotas.plan(plan)[0]].append(subject)
    return found


def _plan_data(name: str, plan: Plan, quotas: Quotas, subjects: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "tokens": plan.tokens,
        "usd": plan.usd,
        "multiplier": plan.multiplier,
        "overage": plan.overage,
        "default": name == quotas.settings.default_plan,
        "users": [s.split(":", 1)[1] for s in subjects if s.startswith("user:")],
        "orgs": [s.split(":", 1)[1] for s in subjects if s.startswith("org:")],
    }


def _multiplier(value: float) -> str:
    return f"{value:g}"


def run_list(args: argparse.Namespace) -> int:
    with open_ledger(args) as ledger:
        quotas: Quotas = ledger.quotas.quotas
        assignments = ledger.quotas.assignments()
    on = _on_plans(assignments, quotas)
    settings = quotas.settings
    if args.json:
        print_json(
            {
                "defaultPlan": settings.default_plan,
                "timezone": settings.timezone,
                "counts": settings.counts,
                "plans": [_plan_data(n, p, quotas, on[n]) for n, p in quotas.plans.items()],
            }
        )
        return 0
    unit = "USD/MONTH" if settings.counts == "cost" else "TOKENS/MONTH"
    rows = []
    for name, plan in quotas.plans.items():
        users = sum(s.startswith("user:") for s in on[name])
        orgs = len(on[name]) - users
        label = f"{name} *" if name == settings.default_plan else name
        rows.append(
            (
                label,
                _allowance(quotas, plan),
                _multiplier(plan.multiplier),
                plan.overage,
                str(users),
                str(orgs),
            )
        )
    headers = ("PLAN", unit, "MULTIPLIER", "OVERAGE", "USERS", "ORGS")
    emit(table(headers, rows, right=(1, 2, 4, 5), shrink=(0,)))
    emit(
        "* the default plan, for users and orgs without one\n"
        f"months: calendar months in {settings.timezone}\n"
        f"counted: {_counts_words(quotas)}"
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    with open_ledger(args) as ledger:
        quotas: Quotas = ledger.quotas.quotas
        assignments = ledger.quotas.assignments()
    if args.name not in quotas.plans:
        raise UsageError(f"no plan named {args.name!r}; plans: {', '.join(quotas.plans)}")
    plan = quotas.plans[args.name]
    subjects = _on_plans(assignments, quotas)[args.name]
    if args.json:
        print_json(_plan_data(args.name, plan, quotas, subjects))
        return 0
    default = quotas.settings.default_plan == args.name
    unit = "" if quotas.settings.counts == "cost" else " tokens"
    overage = (
        "allow: requests go on past the allowance; the meter counts the overage"
        if plan.overage == "allow"
        else "block: requests are refused once the month's allowance is used"
    )
    assigned = ", ".join(subject_words(s) for s in subjects) or "nobody (yet)"
    if default:
        assigned += "; and everyone without a plan of their own"
    lines = [
        f"plan {args.name}" + (" (the default plan)" if default else ""),
        f"  allowance   {_allowance(quotas, plan)}{unit} a month "
        f"(calendar months in {quotas.settings.timezone})",
        f"  counted     {_counts_words(quotas)}",
        f"  multiplier  {_multiplier(plan.multiplier)} (counted units = tokens x it, rounded up)",
        f"  overage     {overage}",
        f"  on it       {assigned}",
    ]
    emit("\n".join(lines))
    return 0


def run_set(args: argparse.Namespace) -> int:
    user, org = who(args)
    with open_ledger(args) as ledger:
        quotas: Quotas = ledger.quotas.quotas
        if args.plan not in quotas.plans:
            raise UsageError(f"no plan named {args.plan!r}; plans: {', '.join(quotas.plans)}")
        ledger.quotas.assign_plan(args.plan, user_id=user, org_id=org)
    plan = quotas.plans[args.plan]
    unit = "" if quotas.settings.counts == "cost" else " tokens"
    emit(f"{said(user, org)} is now on plan {args.plan} ({_allowance(quotas, plan)}{unit} a month)")
    return 0


def run_unset(args: argparse.Namespace) -> int:
    user, org = who(args)
    with open_ledger(args) as ledger:
        ledger.quotas.assign_plan(None, user_id=user, org_id=org)
        default = ledger.quotas.quotas.settings.default_plan
    emit(f"{said(user, org)} is on the default plan {default} again")
    return 0

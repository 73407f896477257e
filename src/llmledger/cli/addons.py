"""``addons``: tokens granted on top of a plan (a purchase, a goodwill top-up).

An add-on extends the limit of the month it is granted in; with ``[quotas] rollover = true``
what is left of an unexpired add-on carries into the next months. A caller-given ``--id``
makes a grant idempotent: a billing webhook retried twice grants once.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmledger.cli.common import Parents, UsageError, emit, open_ledger
from llmledger.cli.quota_common import (
    end_of_day,
    json_option,
    last_day,
    local_day,
    number_text,
    print_json,
    said,
    subject_words,
    table,
    token_count,
    usd_amount,
    who,
    who_options,
)
from llmledger.quota.records import Grant

DESCRIPTION = """\
Add-ons are tokens granted to a user or an org on top of their plan, e.g. a purchased pack.
They extend the limit of the month they are granted in, until they expire; with [quotas]
rollover = true, what is left of an unexpired add-on carries into the next month.
"""

EPILOG = """\
examples:
  llmledger addons add --user alice --tokens 50000
  llmledger addons add --user alice --tokens 1,000,000 --expires 2026-12-31 --note "annual pack"
  llmledger addons add --org acme --tokens 500000 --id stripe:in_1Nx   granted once, however
                                                                      often it is sent
  llmledger addons list --user alice
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "addons",
        help="tokens granted on top of a plan",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    sub = parser.add_subparsers(dest="addons_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True

    add = sub.add_parser("add", help="grant tokens to a user or an org", parents=[parents.globals])
    who_options(add)
    amount = add.add_mutually_exclusive_group(required=True)
    amount.add_argument(
        "--tokens", type=token_count, metavar="N", help="tokens to grant (a whole number)"
    )
    amount.add_argument(
        "--usd", type=usd_amount, metavar="AMOUNT", help='USD to grant (when counts = "cost")'
    )
    add.add_argument(
        "--expires",
        metavar="DATE",
        help="last day it counts, YYYY-MM-DD in the quota zone (default: never expires)",
    )
    add.add_argument("--note", help="a note to recognise it by (an invoice, a reason)")
    add.add_argument(
        "--id", dest="grant_id", metavar="ID", help="your id for it: the same id grants once"
    )
    json_option(add)
    add.set_defaults(handler=run_add)

    listing = sub.add_parser("list", help="list add-ons", parents=[parents.globals])
    who_options(listing, required=False)
    json_option(listing)
    listing.set_defaults(handler=run_list, ledger_access="read")


def _grant_data(grant: Grant, unit: str, **extra: object) -> dict[str, Any]:
    kind, _, ident = grant.subject.partition(":")
    units: int | float = grant.units / 10**9 if unit == "usd" else grant.units
    return {
        "id": grant.id,
        kind: ident,
        unit: units,
        "grantedAt": grant.granted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expiresAt": grant.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if grant.expires_at else None,
        "note": grant.note,
        **extra,
    }


def run_add(args: argparse.Namespace) -> int:
    user, org = who(args)
    with open_ledger(args) as ledger:
        book = ledger.quotas
        counts_cost = book.quotas.settings.counts == "cost"
        if counts_cost and args.tokens is not None:
            raise UsageError('the quotas count cost ([quotas] counts = "cost"): grant --usd')
        if not counts_cost and args.usd is not None:
            raise UsageError("the quotas count tokens: grant --tokens")
        zone = book.quotas.zone
        now = book.now()
        expires = end_of_day(args.expires, "--expires", zone, now) if args.expires else None
        grant, created = book.add_grant(
            args.usd if counts_cost else args.tokens,
            user_id=user,
            org_id=org,
            grant_id=args.grant_id,
            expires_at=expires,
            note=args.note,
        )
    unit = "usd" if counts_cost else "tokens"
    if args.json:
        print_json(_grant_data(grant, unit, created=created))
        return 0
    amount = number_text(grant.units / 10**9 if counts_cost else grant.units, unit)
    amount += "" if counts_cost else " tokens"
    if not created:
        emit(
            f"add-on {grant.id} was granted already ({amount} to "
            f"{subject_words(grant.subject)}): nothing changed"
        )
        return 0
    until = f", counts through {last_day(grant.expires_at, zone)}" if grant.expires_at else ""
    emit(f"granted {amount} to {said(user, org)} (add-on {grant.id}{until})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    user, org = who(args)
    with open_ledger(args) as ledger:
        book = ledger.quotas
        grants = book.grants(user, org)
        zone = book.quotas.zone
        unit = "usd" if book.quotas.settings.counts == "cost" else "tokens"
    if args.json:
        print_json([_grant_data(g, unit) for g in grants])
        return 0
    if not grants:
        emit("no add-ons yet: llmledger addons add --user USER --tokens N")
        return 0
    rows = [
        (
            g.id,
            subject_words(g.subject),
            number_text(g.units / 10**9 if unit == "usd" else g.units, unit),
            local_day(g.granted_at, zone),
            last_day(g.expires_at, zone) or "never",
            g.note or "",
        )
        for g in grants
    ]
    headers = ("ID", "FOR", "USD" if unit == "usd" else "TOKENS", "GRANTED", "LAST DAY", "NOTE")
    emit(table(headers, rows, right=(2,), shrink=(5, 0, 1)))
    return 0

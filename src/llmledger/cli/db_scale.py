"""``db migrate`` and ``db copy``: apply a ledger's migrations explicitly, and move a ledger
between SQLite and PostgreSQL (resumable, verified month by month); and ``db check`` / ``db
repair`` of a PostgreSQL ledger (SQLite files are checked in cli/db.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from llmledger.cli.common import Parents, emit, load_cli_config

COPY_EPILOG = """\
examples:
  llmledger db copy --from ~/.local/share/llmledger/ledger.db \\
      --to postgresql://llmledger@db.internal/llmledger
  llmledger db copy --from postgresql://llmledger@db.internal/llmledger --to backup.db

An interrupted copy resumes where it stopped when run again; events already copied count once.
"""


def register_actions(actions: Any, parents: Parents) -> None:
    migrate = actions.add_parser(
        "migrate",
        help="create the ledger if needed and apply its pending migrations",
        description="Apply the schema migrations this llmledger needs to the ledger (--db, "
        "LLMLEDGER_DB or the default), creating it if it does not exist. Commands that write "
        "migrate by themselves; operators of a shared PostgreSQL ledger run this once per "
        "upgrade, as a user who may change the schema.",
        parents=[parents.globals],
    )
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(handler=run_migrate)
    copy = actions.add_parser(
        "copy",
        help="copy a ledger into another (SQLite <-> PostgreSQL), verified per month",
        description="Copy every event (with its stored cost), scan cursor, gateway key, plan, "
        "add-on, budget, alert state and rate-window reading of --from into --to, then check "
        "that each month's event count and sums are equal in both. Exit 0 when they are.",
        epilog=COPY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="ledger to read")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="ledger to fill")
    copy.add_argument("--json", action="store_true")
    copy.set_defaults(handler=run_copy)


def db_url(args: argparse.Namespace) -> str:
    from llmledger.ledger import resolve_db_url

    return str(resolve_db_url(getattr(args, "db", None), load_cli_config(args), os.environ))


def run_migrate(args: argparse.Namespace) -> int:
    from llmledger.admin import migrate

    done = migrate(db_url(args))
    if args.json:
        data = {"ledger": done.location, "applied": done.applied, "current": done.current}
        emit(json.dumps(data))
    elif done.applied:
        emit(f"migrated {done.location}: applied {', '.join(done.applied)}")
    else:
        emit(f"{done.location} is current ({done.current} migrations)")
    return 0


def run_copy(args: argparse.Namespace) -> int:
    from llmledger.admin import copy

    def progress(read: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rcopied {read:,} events")
            sys.stderr.flush()

    result = copy(args.source, args.target, progress=progress)
    if sys.stderr.isatty() and result.read:
        sys.stderr.write("\n")
    if args.json:
        emit(
            json.dumps(
                {
                    "read": result.read,
                    "written": result.copied,
                    "resumedFrom": result.resumed_from,
                    "copied": result.extras,
                    "months": {m: {"from": a, "to": b} for m, (a, b) in result.months.items()},
                    "mismatched": result.mismatched,
                    "verified": result.verified,
                },
                indent=2,
            )
        )
        return 0 if result.verified else 1
    resumed = "" if result.resumed_from is None else " (resumed)"
    extras = ", ".join(f"{count:,} {name}" for name, count in result.extras.items() if count)
    lines = [
        f"copied {result.read:,} events{resumed}, {result.copied:,} written"
        + (f"; {extras}" if extras else "")
    ]
    if result.verified:
        total = sum(a for a, _ in result.months.values())
        lines.append(f"verified: {len(result.months)} month(s), {total:,} events, sums equal")
        emit("\n".join(lines))
        return 0
    lines.append("NOT verified: these months differ (events from / to):")
    for month in result.mismatched:
        lines.append(f"  {month}: {result.months[month][0]:,} / {result.months[month][1]:,}")
    lines.append("the target held other events before, or a write failed: see `db check`")
    emit("\n".join(lines))
    return 1


def run_postgres_check(args: argparse.Namespace, url: str, render: Any) -> int:
    from llmledger.admin import check

    health = check(url)
    emit(json.dumps(health.to_json(), indent=2) if args.json else render(health))
    return 0 if health.healthy else 1


def run_postgres_repair(args: argparse.Namespace, url: str) -> int:
    from llmledger.admin import check
    from llmledger.cli.common import open_ledger

    before = check(url)
    quotas = before.quotas
    if before.rollup_checked and not before.rollup_count and not quotas.problems:
        emit(f"nothing to repair: the rollup of {before.path} matches its events")
        return 0
    rollup = not before.rollup_checked or before.rollup_count > 0
    with open_ledger(args, "read") as ledger:
        if rollup:
            ledger.rebuild_rollup()
        if quotas.problems:
            ledger.quotas.repair()
    after = check(url)
    done = []
    if rollup:
        done.append(
            f"rebuilt the hourly rollup of {after.path} from its {after.events or 0:,} events"
        )
    if quotas.problems:
        stale = quotas.expired_holds + quotas.settled_holds
        done.append(
            f"recounted the quota counters ({quotas.differing:,} row(s) differed) and deleted "
            f"{stale:,} stale reservation(s)"
        )
    if not after.healthy:
        done.append(f"`llmledger db check --db {after.path}` still finds problems")
    emit("; ".join(done))
    return 0 if after.healthy else 1

"""``db``: look after the ledger file: ``check`` it, ``backup`` it, ``repair`` its rollup."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from llmledger.cli.common import Parents, Parser, UsageError, emit, load_cli_config, open_ledger

DB_EPILOG = """\
examples:
  llmledger db check                 integrity, migrations, rollup; exit 1 if anything is wrong
  llmledger db backup ~/ledger-copy.db
  llmledger db repair                rebuild the hourly rollup from the events
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "db",
        help="check, back up, repair, migrate or copy the ledger",
        description="Look after the ledger database (--db, LLMLEDGER_DB or the default).",
        epilog=DB_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    actions_named = "check, backup, repair, migrate, copy"
    parser.set_defaults(handler=lambda args: parser.error(f"name an action: {actions_named}"))
    check = actions.add_parser(
        "check",
        help="integrity, migrations and rollup; says what to do about each problem",
        description="Check the ledger without writing to it: PRAGMA integrity_check, that "
        "every migration is applied, and that the hourly rollup equals the sums of the "
        "events. Exit 0 when healthy, 1 otherwise.",
        parents=[parents.globals],
    )
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=run_check)
    backup = actions.add_parser(
        "backup",
        help="copy the ledger with SQLite's online backup (works on a read-only ledger)",
        description="Write a consistent copy of the ledger to FILE, even while it is in use.",
        parents=[parents.globals],
    )
    backup.add_argument("file", metavar="FILE", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.set_defaults(handler=run_backup)
    repair = actions.add_parser(
        "repair",
        help="rebuild the hourly rollup from the events when they disagree",
        description="Recompute the hourly sums reports read from the stored events, when "
        "`db check` finds that they disagree. Damaged pages cannot be repaired this way.",
        parents=[parents.globals],
    )
    repair.set_defaults(handler=run_repair)
    from llmledger.cli.db_scale import register_actions

    register_actions(actions, parents)  # migrate, copy


def ledger_file(args: argparse.Namespace) -> Path:
    """The ledger file --db (or LLMLEDGER_DB, the config, the default) names."""
    from llmledger.ledger import resolve_db_url
    from llmledger.ledger_file import ledger_file as file_of

    target = file_of(resolve_db_url(getattr(args, "db", None), load_cli_config(args), os.environ))
    if not isinstance(target, Path):
        raise UsageError("db commands need a ledger file, not an in-memory database")
    return target


def run_check(args: argparse.Namespace) -> int:
    from llmledger.cli.db_scale import db_url, run_postgres_check
    from llmledger.ledger_file import check_file

    if (url := db_url(args)).startswith(("postgresql://", "postgres://")):
        return run_postgres_check(args, url, check_text)

    health = check_file(ledger_file(args))
    emit(json.dumps(health.to_json(), indent=2) if args.json else check_text(health))
    return 0 if health.healthy else 1


def check_text(health: Any) -> str:
    events = "?" if health.events is None else f"{health.events:,}"
    lines = [f"ledger {health.path}: {events} events, {health.bytes / 1e6:,.1f} MB"]
    if health.integrity:
        more = len(health.integrity) - 1
        extra = f" (+{more} more: --json lists them)" if more else ""
        lines.append(f"integrity: DAMAGED: {health.integrity[0]}{extra}")
    else:
        lines.append("integrity: ok")
    if health.unknown:
        lines.append(f"migrations: from a newer llmledger: {', '.join(health.unknown)}")
    elif health.pending:
        lines.append(f"migrations: pending: {', '.join(health.pending)}")
    else:
        lines.append(f"migrations: current ({len(health.applied)} applied)")
    if not health.rollup_checked:
        lines.append("rollup: not compared (fix the problems above first)")
    elif health.rollup_count:
        lines.append(f"rollup: differs from the events in {health.rollup_count:,} hour row(s)")
        lines += [f"  {difference.describe()}" for difference in health.rollup[:5]]
    else:
        lines.append("rollup: matches the events")
    lines += _quota_lines(health)
    advice = health.advice()
    if not advice:
        lines.append("healthy")
    else:
        lines.append("what to do:")
        lines += [f"  {number}. {step}" for number, step in enumerate(advice, 1)]
    return "\n".join(lines)


def _quota_lines(health: Any) -> list[str]:
    quotas = getattr(health, "quotas", None)  # PostgreSQL's report has none
    if quotas is None or not health.rollup_checked or not quotas.counted:
        return []
    if quotas.differing:
        lines = [f"quota counters: differ from the events in {quotas.differing:,} row(s)"]
        lines += [f"  {difference.describe()}" for difference in quotas.differences[:5]]
    else:
        lines = ["quota counters: match the events"]
    stale = []
    if quotas.expired_holds:
        stale.append(f"{quotas.expired_holds:,} expired")
    if quotas.settled_holds:
        stale.append(f"{quotas.settled_holds:,} of requests already recorded")
    lines.append(f"reservations: {', '.join(stale)}" if stale else "reservations: none stale")
    return lines


def run_backup(args: argparse.Namespace) -> int:
    from llmledger.cli.outfile import check_target, replacing
    from llmledger.errors import FileError
    from llmledger.ledger_file import backup_file

    source = ledger_file(args)
    target = Path(args.file).expanduser()
    check_target(target, "FILE", "ledger-backup.db")
    if target.exists():
        if source.exists() and target.samefile(source):
            raise FileError(f"{target} is the ledger itself; name another file for the copy")
        if not args.force:
            raise FileError(f"{target} exists; pass --force to overwrite it")
    with replacing(target) as path:
        events = backup_file(source, path, name=target)
    count = "events not counted: the ledger is damaged" if events is None else f"{events:,} events"
    emit(f"backed up {source} to {target}: {count}, {target.stat().st_size / 1e6:,.1f} MB")
    return 0


def run_repair(args: argparse.Namespace) -> int:
    from llmledger.cli.db_scale import db_url, run_postgres_repair
    from llmledger.ledger_file import check_file, damaged_error, db_command

    if (url := db_url(args)).startswith(("postgresql://", "postgres://")):
        return run_postgres_repair(args, url)

    path = ledger_file(args)
    before = check_file(path)
    if before.integrity:
        raise damaged_error(path, f"{before.integrity[0]}; `db repair` rebuilds the rollup only")
    quotas = before.quotas
    if before.rollup_checked and not before.rollup_count and not quotas.problems:
        emit(f"nothing to repair: the rollup of {path} matches its events")
        return 0
    rollup = not before.rollup_checked or before.rollup_count > 0
    with open_ledger(args, "read") as ledger:  # "read": an existing ledger, never a new one
        if rollup:
            ledger.rebuild_rollup()  # opening applied any pending migrations first
        if quotas.problems:
            ledger.quotas.repair()
    after = check_file(path)
    done = []
    if rollup:
        done.append(f"rebuilt the hourly rollup of {path} from its {after.events or 0:,} events")
    if before.rollup_checked and before.rollup_count:
        done.append(f"{before.rollup_count:,} hour row(s) differed")
    if quotas.problems:
        stale = quotas.expired_holds + quotas.settled_holds
        done.append(
            f"recounted the quota counters of {path} ({quotas.differing:,} row(s) differed) "
            f"and deleted {stale:,} stale reservation(s)"
        )
    if before.pending:
        done.append(f"applied migrations {', '.join(before.pending)}")
    if not after.healthy:
        done.append(f"{db_command(path, 'db check')} still finds problems")
    emit("; ".join(done))
    return 0 if after.healthy else 1

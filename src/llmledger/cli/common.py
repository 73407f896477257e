"""What every command shares: the argument parser, global and report options, the ledger.

Command modules (``cli/<name>.py``) each expose ``register(commands, parents)`` that adds their
subcommands with ``set_defaults(handler=...)``; a handler takes the parsed ``args`` and returns
the exit code. Handlers raise ``LedgerError`` for user mistakes: ``main`` turns those into one
line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn, TextIO

import msgspec

from llmledger.errors import LedgerError
from llmledger.report.aggregate import GROUP_BY_CHOICES, ReportOptions
from llmledger.report.kinds import ReportKind
from llmledger.report.timezones import parse_date
from llmledger.sources.registry import shortcuts

Handler = Callable[[argparse.Namespace], int]


class UsageError(LedgerError):
    """A command-line mistake: exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming it (exit 2), not the usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


class Parents(msgspec.Struct, frozen=True):
    """Option sets a command can inherit: ``globals`` on every command, ``report`` on reports
    and the commands that take their filters, ``order`` on the date-ordered reports (apart,
    because ``export`` spends ``-o`` on its output file)."""

    globals: argparse.ArgumentParser
    report: argparse.ArgumentParser
    order: argparse.ArgumentParser


def global_options() -> argparse.ArgumentParser:
    # SUPPRESS defaults: the same options are accepted before and after the subcommand
    # without the subcommand's copy overwriting a value given before it.
    parser = Parser(add_help=False)
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="ledger database: a path, sqlite:///path or postgresql://… (env LLMLEDGER_DB)",
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="TOML config file (env LLMLEDGER_CONFIG)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="say more; on errors show the traceback",
    )
    return parser


def _no_defaults(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The subcommands' copy of options the top level has too: without defaults, so a value
    given before the subcommand (``llmledger -j daily``) is not overwritten by its default."""
    for action in parser._actions:  # set_defaults would put the SUPPRESS marker in the args
        action.default = argparse.SUPPRESS
    return parser


def report_options(*, for_subcommands: bool = False) -> argparse.ArgumentParser:
    # Short flags as ccusage spells them (-s -u -z -j -b); -v stays --verbose.
    parser = Parser(add_help=False)
    when = parser.add_argument_group("time window")
    when.add_argument("-s", "--since", metavar="DATE", help="first day, YYYY-MM-DD or YYYYMMDD")
    when.add_argument("-u", "--until", metavar="DATE", help="last day (inclusive)")
    when.add_argument(
        "--days",
        "--last",
        dest="days",
        type=positive_int,
        metavar="N",
        help="the last N days, today included (in --tz)",
    )
    when.add_argument("--year", type=_year, help="only this calendar year")
    when.add_argument(
        "-z", "--tz", metavar="ZONE", help="IANA time zone that decides the days (default: local)"
    )
    which = parser.add_argument_group("filters")
    which.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="only this source (repeatable): claude-code, codex, gemini-cli, proxy, sdk, ...",
    )
    # Shortcut flags for --source, as tokscale users know them: each agent module names its own.
    for flag, source in shortcuts().items():
        which.add_argument(
            f"--{flag}",
            dest="source",
            action="append_const",
            const=source,
            help=f"same as --source {source}",
        )
    which.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="only this model (repeatable); a name that is not stored as is selects every "
        "model containing it, ignoring case: --model sonnet",
    )
    which.add_argument("--user", action="append", default=[], help="only this user id")
    which.add_argument("--org", action="append", default=[], help="only this org id")
    which.add_argument("--account", action="append", default=[], help="only this account")
    which.add_argument("--project", action="append", default=[], help="only this project")
    which.add_argument("--host", action="append", default=[], help="only this machine's events")
    shape = parser.add_argument_group("output")
    shape.add_argument(
        "--group-by",
        choices=sorted(GROUP_BY_CHOICES),
        help="split every row by this dimension",
    )
    shape.add_argument("-b", "--breakdown", action="store_true", help="add a row per model")
    fmt = shape.add_mutually_exclusive_group()
    fmt.add_argument("-j", "--json", action="store_true", help="JSON (ccusage field names)")
    fmt.add_argument("--csv", action="store_true", help="CSV")
    shape.add_argument(
        "--no-scan", action="store_true", help="do not import new agent-log lines first"
    )
    shape.add_argument(
        "--offline", action="store_true", help="never touch the network (the default for reports)"
    )
    return _no_defaults(parser) if for_subcommands else parser


def order_options(*, for_subcommands: bool = False) -> argparse.ArgumentParser:
    parser = Parser(add_help=False)
    parser.add_argument(
        "-o",
        "--order",
        choices=("asc", "desc"),
        default="asc",
        help="rows oldest first (asc, the default) or newest first (desc)",
    )
    return _no_defaults(parser) if for_subcommands else parser


def make_parents() -> Parents:
    """The option sets of subcommands (the top level takes its own: ``top_level_options``)."""
    return Parents(
        globals=global_options(),
        report=report_options(for_subcommands=True),
        order=order_options(for_subcommands=True),
    )


def top_level_options() -> list[argparse.ArgumentParser]:
    """What bare ``llmledger`` (the daily report) takes, with defaults."""
    return [global_options(), report_options(), order_options()]


# -- parsing values ----------------------------------------------------------------------------


def parse_day(text: str, option: str) -> date:
    """YYYY-MM-DD or YYYYMMDD; a UsageError naming the option otherwise."""
    day = parse_date(text)
    if day is None:
        raise UsageError(f"{option} {text!r} is not a date: use YYYY-MM-DD or YYYYMMDD")
    return day


def _year(text: str) -> int:
    if not re.fullmatch(r"\d{4}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a year (e.g. 2025)")
    return int(text)


def non_negative_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; token counts must be >= 0")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a number of days (1 or more)")
    return value


def _unique(values: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values or () if v))


def report_options_from(args: argparse.Namespace, kind: ReportKind) -> ReportOptions:
    from llmledger.report import timezones

    zone = timezones.resolve_zone(args.tz)
    since = parse_day(args.since, "--since") if args.since else None
    until = parse_day(args.until, "--until") if args.until else None
    days: int | None = getattr(args, "days", None)
    if days is not None:
        if since or until or args.year is not None:
            raise UsageError("--days counts back from today: use it without --since/--until/--year")
        until = timezones.today(zone)
        since = until - timedelta(days=days - 1)
    if args.year is not None:
        since = max(since or date(args.year, 1, 1), date(args.year, 1, 1))
        until = min(until or date(args.year, 12, 31), date(args.year, 12, 31))
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")
    filters = {
        "source": _unique(args.source),
        "model": _unique(args.model),
        "user_id": _unique(args.user),
        "org_id": _unique(args.org),
        "account": _unique(args.account),
        "project": _unique(args.project),
        "host": _unique(args.host),
    }
    return ReportOptions(
        kind=kind,
        zone=zone,
        since=since,
        until=until,
        filters={k: v for k, v in filters.items() if v},
        group_by=GROUP_BY_CHOICES[args.group_by] if args.group_by else None,
        breakdown=bool(args.breakdown),
    )


# -- the ledger and the terminal ---------------------------------------------------------------


def verbosity(args: argparse.Namespace) -> int:
    return int(getattr(args, "verbose", 0) or 0)


def load_cli_config(args: argparse.Namespace) -> Any:
    """The Config named by --config (or LLMLEDGER_CONFIG, or the default file if there)."""
    from llmledger.config import load_config
    from llmledger.paths import default_config_path

    explicit = getattr(args, "config", None)
    config_path = Path(explicit) if explicit else default_config_path(os.environ)
    return load_config(config_path, required=explicit is not None)


# Commands that import new agent-log lines before they show the ledger (None: bare llmledger),
# unless --no-scan: on a ledger they cannot write they show it as it is.
SCAN_FIRST = frozenset(
    {None, "daily", "weekly", "monthly", "models", "sessions", "blocks", "sources"}
)


def ledger_access(args: argparse.Namespace) -> str:
    """Whether the command may create the ledger and write to it: "write", else "read".

    A command says so with ``set_defaults(ledger_access=...)``; otherwise a command that
    scans first only reads with --no-scan, and everything else writes."""
    declared = getattr(args, "ledger_access", None)
    if declared:
        return str(declared)
    if getattr(args, "command", None) in SCAN_FIRST and getattr(args, "no_scan", False):
        return "read"
    return "write"


def open_ledger(args: argparse.Namespace, access: str | None = None) -> Any:
    """The Ledger named by --db / --config (or their env vars and defaults).

    Only ``access="write"`` (default: ``ledger_access(args)``) may create it; otherwise a
    missing ledger is a NoLedgerError, or an empty in-memory one (and a line on stderr) when
    no path was given and the default does not exist yet. A ledger that cannot be written
    opens read-only: a command that scans first then shows it as it is (and says so on
    stderr), ``scan`` is refused, others fail at their first write."""
    from llmledger.errors import NoLedgerError
    from llmledger.ledger import Ledger

    access = access or ledger_access(args)
    config = load_cli_config(args)
    named = getattr(args, "db", None) or os.environ.get("LLMLEDGER_DB") or config.db
    try:
        ledger = Ledger(named or None, config=config, create=access == "write")
    except NoLedgerError as exc:
        if named:  # a path the user gave: a typo must not read as "no usage"
            raise
        # The default ledger before anything was recorded: shown empty, and not created.
        print(f"llmledger: {exc}", file=sys.stderr)
        return Ledger(":memory:", config=config)
    command = getattr(args, "command", None)
    if access != "write" or not ledger.readonly:
        return ledger
    if command == "scan":
        ledger.close()
        raise ledger.read_only_error()
    if command in SCAN_FIRST and not getattr(args, "no_scan", False):
        args.no_scan = True
        print(
            f"llmledger: the ledger at {ledger.location} is read-only ({ledger.why_readonly}): "
            "showing it without importing new agent-log lines",
            file=sys.stderr,
        )
    return ledger


# terminal_width() when there is no limit: output that is not a terminal keeps every column.
NO_LIMIT = sys.maxsize


def output_width(stream: TextIO | None = None) -> int | None:
    """How many cells a table may take: ``COLUMNS`` when set (scripts and tests choose a width
    that way), the terminal's width when ``stream`` (default stdout) is one, else None: a
    file or a pipe gets the whole table at its natural width."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream or sys.stdout
    if not is_terminal(stream):
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return shutil.get_terminal_size((80, 24)).columns


def terminal_width(stream: TextIO | None = None) -> int:
    """``output_width`` for callers that need a number (``NO_LIMIT`` when there is none)."""
    width = output_width(stream)
    return NO_LIMIT if width is None else width


def use_color(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")

"""``llmledger``: the command line. Builds the parser with the invoked command's module and runs it.

Bare ``llmledger`` imports new agent-log lines (when the agent sources are installed) and
prints the daily report.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from llmledger import __version__
from llmledger.cli.common import Parser, UsageError, make_parents, top_level_options, verbosity
from llmledger.errors import LedgerError

# Every command, and the module of llmledger.cli that registers it (``register(commands,
# parents)`` in that module), so that running a command imports only its module. Adding a
# command is one line here, e.g. ``"telegram": "telegram",`` (an alias is one more line naming
# the same module); tests/cli/test_commands.py checks this table against the registrations.
COMMANDS: dict[str, str] = {
    "daily": "reports",
    "weekly": "reports",
    "monthly": "reports",
    "models": "reports",
    "sessions": "reports",
    "scan": "agents",
    "sources": "agents",
    "blocks": "agents",
    "record": "record",
    "reprice": "record",
    "prices": "prices",
    "export": "export",
    "serve": "serve",
    "keys": "keys",
    "db": "db",
    "dashboard": "dashboard",
    "graph": "graph",
    "html": "html_report",
    "plans": "plans",
    "addons": "addons",
    "budgets": "budgets",
    "usage": "meter",
    "estimate": "estimate",
    "statusline": "statusline",
    "quota": "quota_windows",
    "live": "live",
    "wrapped": "wrapped",
    "telegram": "telegram",
    "alerts": "alerts",
    "import": "imports",
    "push": "push",
}

DESCRIPTION = """\
One ledger for every LLM token you spend.

Run with no command to import your coding agents' logs (Claude Code, Codex, Gemini CLI,
OpenCode, ...) and see the daily report. Everything lands in one SQLite file in your data dir
(LLMLEDGER_HOME, default ~/.local/share/llmledger) so history survives after the agents
delete their transcripts.
"""

EPILOG = """\
examples:
  llmledger                          import agent logs, then the daily report
  llmledger monthly --json           ccusage-compatible JSON
  llmledger daily --since 2025-08-01 --tz Europe/Berlin --breakdown
  llmledger models --group-by user   who spends on which model
  llmledger record --model claude-sonnet-4-5 --input 1000 --output 500
  llmledger prices gpt-5             the matched price entry and its rates
  llmledger dashboard                the graph, charts and sessions in the browser
"""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the commands ``argv`` may run registered (all of them without argv)."""
    parents = make_parents()
    parser = Parser(
        prog="llmledger",
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=top_level_options(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"llmledger {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in command_modules(argv):
        importlib.import_module(f"llmledger.cli.{module}").register(commands, parents)
    return parser


def command_modules(argv: Sequence[str] | None) -> list[str]:
    """The modules to register for ``argv``: the named command's, none for bare ``llmledger``
    (the daily report, run by ``_default``), and every one for ``--help``, an unknown command
    or shell completion (which list them all)."""
    everything = list(dict.fromkeys(COMMANDS.values()))
    if argv is None or "_ARGCOMPLETE" in os.environ:
        return everything
    command = invoked_command(argv)
    if command in COMMANDS:
        return [COMMANDS[command]]
    asks_help = "-h" in argv or "--help" in argv
    return [] if command is None and not asks_help else everything


def invoked_command(argv: Sequence[str]) -> str | None:
    """The first positional argument of ``argv`` (the command), read past the top-level
    options and their values; "" when the options themselves are wrong (the full parser will
    say how)."""
    probe = Parser(add_help=False, parents=top_level_options())
    probe.add_argument("command", nargs="?")
    try:
        known, _ = probe.parse_known_args(argv)
    except UsageError:
        return ""
    return str(known.command) if known.command is not None else None


def _default(args: argparse.Namespace) -> int:
    """No command: scan (done by the daily handler unless --no-scan), then daily."""
    from llmledger.cli.reports import run_report

    return run_report(args, "daily")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = 0
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        verbose = verbosity(args)
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
            format="llmledger: %(levelname)s: %(message)s",
        )
        handler = getattr(args, "handler", None) or _default
        return int(handler(args) or 0)
    except UsageError as exc:
        print(f"llmledger: error: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        if verbose:
            raise
        print(f"llmledger: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("llmledger: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `llmledger daily | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()

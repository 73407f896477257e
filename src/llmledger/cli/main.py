"""``llmledger``: the command line. Builds the parser from the command modules and runs one.

Bare ``llmledger`` imports new agent-log lines (when the agent sources are installed) and
prints the daily report.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from llmledger import __version__
from llmledger.cli.common import Parser, UsageError, make_parents, top_level_options, verbosity
from llmledger.errors import LedgerError

# Each module registers its commands; a module that is not there (yet) is skipped.
COMMAND_MODULES: tuple[str, ...] = (
    "reports",
    "agents",
    "record",
    "prices",
    "export",
    "serve",
    "keys",
    "db",
    "dashboard",
    "graph",
    "html_report",
    "plans",
    "addons",
    "budgets",
    "meter",
    "estimate",
)

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


def build_parser() -> argparse.ArgumentParser:
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
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"llmledger.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"llmledger.cli.{name}":
                continue
            raise
        module.register(commands, parents)
    return parser


def _default(args: argparse.Namespace) -> int:
    """No command: scan (done by the daily handler unless --no-scan), then daily."""
    from llmledger.cli.reports import run_report

    return run_report(args, "daily")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = 0
    try:
        parser = build_parser()
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

"""``statusline``: one line for a coding agent's status bar (llmledger/statusline/).

The command is also installed as ``llmledger-statusline``, which starts without the rest of the
command line's modules: that is the one to put in Claude Code's ``settings.json``.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmledger.cli.common import Parents


def register(commands: Any, parents: Parents) -> None:
    from llmledger.statusline.fast import USAGE

    description, _, rest = USAGE.partition("\n\n")[2].partition("\n\noptions:")
    parser = commands.add_parser(
        "statusline",
        help="one line for Claude Code's (or Codex's) status bar: session, today, block, limits",
        description=description,
        epilog="settings.json:  " + rest.rpartition("settings.json:  ")[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    add = parser.add_argument
    add("--format", metavar="TEMPLATE", help="a template of {fields} (see llmledger-statusline -h)")
    add("--color", choices=("auto", "always", "never"), default="auto", help="default: auto")
    add("--json", action="store_true", help="the figures as JSON instead of the line")
    add("--codex", action="store_true", help="the newest Codex session (no stdin needed)")
    add("--transcript", metavar="PATH", help="this transcript (default: stdin's)")
    add("--tz", metavar="ZONE", help='time zone of "today" (default: the system\'s)')
    add("--refresh-seconds", metavar="N", help="how old the ledger snapshot may get (60)")
    add("--sync", action="store_true", help="refresh in this process when due")
    parser.set_defaults(handler=run_statusline)


def run_statusline(args: argparse.Namespace) -> int:
    from llmledger.statusline.fast import main

    argv = ["--color", args.color]
    for name in ("format", "transcript", "tz", "refresh_seconds", "db"):
        value = getattr(args, name, None)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    argv += [f"--{name}" for name in ("json", "codex", "sync") if getattr(args, name)]
    return main(argv)

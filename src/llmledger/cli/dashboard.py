"""``dashboard``: the dashboard of one person's local ledger, on 127.0.0.1, in the browser.

New agent-log lines are imported first (as bare ``llmledger`` does) unless --no-scan. The
window options of reports (--since, --until, --days, --year, --tz, --source) choose what the
page opens on; the page has its own controls to change them. Also here: what ``graph`` and
``html`` share (their window read from the report options, the scan before them).
"""

from __future__ import annotations

import argparse
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from llmledger.cli.common import Parents, UsageError, open_ledger, report_options_from

if TYPE_CHECKING:  # the server's modules load when the command runs, not with the CLI
    import socket

    from starlette.types import ASGIApp

    from llmledger.ledger import Ledger
    from llmledger.web.query import DashboardQuery

DEFAULT_PORT = 4100
HOST = "127.0.0.1"

EPILOG = """\
examples:
  llmledger dashboard                  import agent logs, open the dashboard in the browser
  llmledger dashboard --port 0 --no-open   any free port; print the address only
  llmledger dashboard --tz Europe/Berlin --claude
"""

# Report options that do not shape the dashboard, the graph or the html report.
_NOT_HERE = {
    "model": "--model",
    "user": "--user",
    "org": "--org",
    "account": "--account",
    "project": "--project",
}


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "dashboard",
        help="the dashboard of your ledger in the browser (127.0.0.1)",
        description="Serve the dashboard (contribution graph, charts, sessions) of the local "
        "ledger on 127.0.0.1 and open it in the browser. Agent logs are imported first.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals, parents.report],
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--no-open", action="store_true", help="do not open the browser; print the address"
    )
    parser.add_argument(
        "--admin",
        action="store_true",
        help="also the operators' views: top users, keys, accounts and orgs",
    )
    parser.set_defaults(handler=run_dashboard)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


# -- shared with `graph` and `html` ------------------------------------------------------------


def dashboard_query_from(args: argparse.Namespace, command: str) -> DashboardQuery:
    """The window and sources of --since/--until/--days/--year/--tz/--source; a UsageError
    for the report options these commands do not take."""
    for name, flag in _NOT_HERE.items():
        if getattr(args, name, None):
            raise UsageError(f"{command} filters by --source only; {flag} applies to reports")
    for name, flag in (("group_by", "--group-by"), ("breakdown", "--breakdown")):
        if getattr(args, name, None):
            raise UsageError(f"{command} does not take {flag}; it shapes reports only")
    if getattr(args, "json", False) or getattr(args, "csv", False):
        raise UsageError(f"{command} does not take --json/--csv")
    from llmledger.web.query import DashboardQuery

    options = report_options_from(args, "daily")
    return DashboardQuery(
        zone=options.zone,
        since=options.since,
        until=options.until,
        sources=tuple(options.filters.get("source", ())),
    )


def open_and_scan(args: argparse.Namespace, query: DashboardQuery) -> Ledger:
    """The ledger, with new agent-log lines imported first unless --no-scan (a ledger that
    cannot be written is shown as it is, and said so)."""
    from llmledger.cli.reports import check_sources, maybe_scan

    ledger: Ledger = open_ledger(args, "read" if args.no_scan else "write")
    try:
        options = query.report_options("daily")
        check_sources(ledger, options)
        if not args.no_scan and ledger.readonly:
            print(
                f"llmledger: the ledger at {ledger.location} is read-only "
                f"({ledger.why_readonly}): showing it without importing new agent-log lines",
                file=sys.stderr,
            )
        else:
            maybe_scan(ledger, args)
    except BaseException:
        ledger.close()
        raise
    return ledger


# -- the server --------------------------------------------------------------------------------


def run_dashboard(args: argparse.Namespace) -> int:
    from llmledger.gateway.server import bind
    from llmledger.web import create_dashboard_app

    query = dashboard_query_from(args, "dashboard")
    ledger = open_and_scan(args, query)
    try:
        sock = bind(HOST, args.port)
        try:
            url = f"http://{HOST}:{sock.getsockname()[1]}/{_start_query(query)}"
            app = create_dashboard_app(ledger, admin=args.admin, zone=query.zone)
            _serve(app, sock, url, open_browser=not args.no_open)
        finally:
            sock.close()
    finally:
        ledger.close()
    return 0


def _start_query(query: DashboardQuery) -> str:
    """The page's URL parameters for a window given on the command line (none: the page's
    defaults)."""
    given = {name for name in query.params() if name != "tz"}
    return f"?{query.canonical()}" if given else ""


def _serve(app: ASGIApp, sock: socket.socket, url: str, *, open_browser: bool) -> None:
    """Run ``app`` under uvicorn on ``sock`` until Ctrl+C / SIGTERM; once it listens, say
    where on stderr and open the browser."""
    import signal
    import threading

    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                sys.stderr.write(f"llmledger dashboard on {url} (Ctrl+C stops it)\n")
                sys.stderr.flush()
                if open_browser:
                    threading.Thread(target=_open, args=(url,), daemon=True).start()

    config = uvicorn.Config(
        app, ws="none", lifespan="off", log_config=None, access_log=False, server_header=False
    )
    # uvicorn raises the signal it stopped on again once it has shut down: by then the stop
    # it asked for is done, and the command ends with 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _ignore)
    AnnouncingServer(config).run(sockets=[sock])


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The signal uvicorn raises again after its shutdown."""


def _open(url: str) -> None:
    import contextlib
    import webbrowser

    with contextlib.suppress(webbrowser.Error):
        webbrowser.open(url)

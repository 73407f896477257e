"""Report commands: daily, weekly, monthly, models, sessions.

Before a report is built its filters are checked against what the ledger holds: an unknown
``--source`` is a usage error naming the valid ones; a ``--model`` that is not a stored name
selects every stored model containing it (ignoring case), and one that matches nothing is said
on stderr with the models there are.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, cast

import msgspec

from llmledger.cli.common import (
    Parents,
    UsageError,
    emit,
    open_ledger,
    output_width,
    report_options_from,
    use_color,
)
from llmledger.query import EventFilter
from llmledger.report.aggregate import Report, ReportOptions
from llmledger.report.kinds import KINDS, ReportKind
from llmledger.sources.registry import shortcuts

EPILOG = """\
examples (ccusage's short flags work too):
  llmledger {kind} -s 20250801 -u 20250831 -z Europe/Berlin
  llmledger {kind} --days 7 -b            the last 7 days, today included, per model
  llmledger {kind} -j                     JSON with ccusage's field names
  llmledger {kind} --model sonnet         every stored model whose name contains 'sonnet'
  llmledger {kind} --source claude-code --csv > usage.csv

Tables fit the terminal (long names are shortened in the middle; narrow terminals drop the
cache columns); output to a file or a pipe keeps every column at full width, and COLUMNS=N
sets a width. --json and --csv always carry full names.
"""

# Sources that are not agent logs: the gateway, the SDK capture, `llmledger record`, and the
# gateway's simulate endpoint.
BUILT_IN_SOURCES = ("manual", "proxy", "sdk", "simulated")
MODELS_LISTED = 5


def register(commands: Any, parents: Parents) -> None:
    for kind, info in KINDS.items():
        summary = info.summary
        inherited = [parents.globals, parents.report]
        if info.dated:
            inherited.append(parents.order)
        parser = commands.add_parser(
            kind,
            help=summary,
            description=f"Show {summary}.",
            epilog=EPILOG.format(kind=kind),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=inherited,
        )
        parser.add_argument(
            "--exclude-source",
            action="append",
            default=[],
            metavar="NAME",
            help="leave out this source (repeatable), e.g. simulated",
        )
        parser.set_defaults(handler=lambda args, kind=kind: run_report(args, kind))


def maybe_scan(ledger: Any, args: argparse.Namespace) -> None:
    """Import new agent-log lines before a report, unless --no-scan (or no sources)."""
    if getattr(args, "no_scan", False):
        return
    try:
        from llmledger.cli.agents import (  # type: ignore[import-not-found,unused-ignore]
            scan_before_report,
        )
    except ModuleNotFoundError as exc:
        if exc.name == "llmledger.cli.agents":
            return
        raise
    scan_before_report(ledger, args)


# -- filters checked against the ledger --------------------------------------------------------


def _stored(ledger: Any, dimension: str) -> list[str]:
    """The values of ``dimension`` in the ledger, most tokens first."""
    groups = ledger.aggregate(EventFilter(), [dimension])
    groups.sort(key=lambda g: (-g.totals.total_tokens, str(g.key[dimension])))
    return [str(g.key[dimension]) for g in groups if g.key[dimension] is not None]


def known_sources(ledger: Any) -> list[str]:
    names = set(BUILT_IN_SOURCES) | set(_stored(ledger, "source"))
    try:
        from llmledger.sources.registry import SOURCES
    except ModuleNotFoundError:  # pragma: no cover - agent sources not installed
        pass
    else:
        names |= set(SOURCES)
    return sorted(names)


def _closest(name: str, valid: list[str]) -> str | None:
    alias = shortcuts().get(name.lower())
    if alias in valid:
        return alias
    prefixed = [v for v in valid if v.startswith(name.lower())]
    if prefixed:
        return prefixed[0]
    import difflib  # only for a name that is wrong: not on every report's path

    found = difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.6)
    return found[0] if found else None


def check_sources(ledger: Any, options: ReportOptions) -> None:
    """A UsageError (exit 2) for a --source that no event can have."""
    wanted = options.filters.get("source", ())
    if not wanted:
        return
    valid = known_sources(ledger)
    for name in wanted:
        if name in valid:
            continue
        closest = _closest(name, valid)
        hint = f" (did you mean {closest}?)" if closest else ""
        raise UsageError(f"unknown source {name!r}{hint}; valid sources: {', '.join(valid)}")


def exclude_sources(ledger: Any, options: ReportOptions, excluded: list[str]) -> ReportOptions:
    """``options`` without the sources in ``excluded`` (``--exclude-source``): the sources
    asked for, or else every stored one, less those. A UsageError for a name no event can
    have, or when nothing is left of a ledger that has events."""
    if not excluded:
        return options
    check_sources(ledger, msgspec.structs.replace(options, filters={"source": tuple(excluded)}))
    wanted = options.filters.get("source") or tuple(_stored(ledger, "source"))
    kept = tuple(source for source in wanted if source not in set(excluded))
    if wanted and not kept:
        raise UsageError(
            f"--exclude-source leaves no source to report (there is: {', '.join(wanted)})"
        )
    return (
        msgspec.structs.replace(options, filters={**options.filters, "source": kept})
        if kept
        else options
    )


def match_models(pattern: str, stored: list[str]) -> list[str]:
    """The stored models ``pattern`` selects: itself when stored, else those containing it
    (ignoring case)."""
    if pattern in stored:
        return [pattern]
    needle = pattern.casefold()
    return [model for model in stored if needle in model.casefold()]


def resolve_models(ledger: Any, options: ReportOptions) -> ReportOptions:
    """``options`` with each --model replaced by the stored models it selects; a --model that
    selects none is said on stderr, with the models the ledger has."""
    wanted = options.filters.get("model", ())
    if not wanted:
        return options
    stored = _stored(ledger, "model")
    selected: dict[str, None] = {}
    for pattern in wanted:
        matches = match_models(pattern, stored)
        if not matches:
            print(f"llmledger: {_no_model_message(pattern, stored)}", file=sys.stderr)
        selected.update(dict.fromkeys(matches))
    if not selected:
        return options  # nothing matches: the report is empty, as asked
    filters = {**options.filters, "model": tuple(selected)}
    return msgspec.structs.replace(options, filters=filters)


def _no_model_message(pattern: str, stored: list[str]) -> str:
    if not stored:
        return f"no events for model {pattern!r}; the ledger has no events yet"
    listed = ", ".join(stored[:MODELS_LISTED])
    more = len(stored) - MODELS_LISTED
    if more > 0:
        listed += f" (and {more} more: llmledger models)"
    import difflib

    close = difflib.get_close_matches(pattern, stored, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"no events for model {pattern!r}{hint}; models in the ledger: {listed}"


# -- the report --------------------------------------------------------------------------------


def order_rows(report: Report, order: str) -> None:
    """Newest rows first for ``desc`` (by period, or by last activity for sessions); ties
    keep their order. The models report stays sorted by cost."""
    if order != "desc" or not KINDS[report.kind].dated:
        return
    if report.kind == "sessions":
        report.rows.sort(key=lambda row: row.totals.last_ts or 0, reverse=True)
    else:
        report.rows.sort(key=lambda row: row.key, reverse=True)


def run_report(args: argparse.Namespace, kind: str) -> int:
    options = report_options_from(args, cast(ReportKind, kind))
    with open_ledger(args) as ledger:
        check_sources(ledger, options)
        maybe_scan(ledger, args)
        options = resolve_models(ledger, options)
        options = exclude_sources(ledger, options, getattr(args, "exclude_source", []))
        report = ledger.build_report(options)
    order_rows(report, getattr(args, "order", "asc"))
    if args.json:
        from llmledger.report.render.jsonout import render_json

        emit(render_json(report))
    elif args.csv:
        from llmledger.report.render.csvout import render_csv

        emit(render_csv(report))
    else:
        from llmledger.cli.empty_state import render_report_or_explain as render_report
        from llmledger.report.render.table import Style

        title = f"LLM usage — {kind} ({report.zone_name})"
        style = Style(color=use_color())
        emit(
            style.paint(title, style.header)
            + "\n"
            + render_report(
                report,
                width=output_width(),
                style=style,
                scanned=not getattr(args, "no_scan", False),
            )
        )
    return 0

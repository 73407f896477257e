"""What a report says when it has no rows.

With no agent logs on the machine (a first run) it names each agent and where its logs were
looked for, says none were there and what to do next. When logs exist and the period or the
filters select nothing, it names those filters in one line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from llmledger.cli.display import tilde
from llmledger.report.aggregate import Report, ReportOptions
from llmledger.report.render.table import Style
from llmledger.scan.discovery import Root

# Filter columns as the command-line options that set them.
OPTION_OF = {"user_id": "--user", "org_id": "--org"}
NEXT_STEPS = """\
To see usage here:
  - use one of these agents, then run llmledger again;
  - if your logs live elsewhere, point CLAUDE_CONFIG_DIR or CODEX_HOME at them (also
    KIMI_SHARE_DIR, COPILOT_HOME, XDG_CONFIG_HOME, XDG_DATA_HOME);
  - or record usage yourself: llmledger record --model MODEL --input N --output N
    (or meter API calls through the gateway: llmledger serve)."""


def render_report_or_explain(
    report: Report, width: int | None = 80, style: Style | None = None, *, scanned: bool = True
) -> str:
    """``render_report``, but an empty report explains itself (``explain_empty``; ``scanned``:
    the agents' logs were imported first, i.e. no --no-scan)."""
    if report.rows:
        from llmledger.report.render.text import render_report

        return render_report(report, width=width, style=style)
    return explain_empty(
        report.options, agent_roots(os.environ), _home(os.environ), scanned=scanned
    )


def _home(env: Mapping[str, str]) -> Path:
    from llmledger.sources.base import home_dir

    return home_dir(env)


def agent_roots(env: Mapping[str, str]) -> dict[str, list[Root]]:
    """Agent title -> the places its logs are looked for, with their state (agents that keep
    no token counts on disk are not looked for)."""
    from llmledger.scan.discovery import roots
    from llmledger.sources.no_counts import no_token_counts
    from llmledger.sources.registry import SOURCES

    return {
        source.title: roots(source, env)
        for source in SOURCES.values()
        if not no_token_counts(source)
    }


def filter_words(options: ReportOptions) -> str:
    """The period and filters of a report as options: ``--since 2025-01-01 --source codex``."""
    words = []
    if options.since is not None:
        words.append(f"--since {options.since.isoformat()}")
    if options.until is not None:
        words.append(f"--until {options.until.isoformat()}")
    for column, values in options.filters.items():
        option = OPTION_OF.get(column, f"--{column}")
        words += [f"{option} {value}" for value in values]
    return " ".join(words)


def explain_empty(
    options: ReportOptions,
    agents: Mapping[str, list[Root]],
    home: Path,
    *,
    scanned: bool = True,
) -> str:
    filters = filter_words(options)
    found = any(root.state == "found" for places in agents.values() for root in places)
    if found and not scanned:
        return (
            "No usage in the ledger: --no-scan skipped importing the agent logs found on this "
            "machine; run the same command without --no-scan (or llmledger scan) first."
        )
    if found and filters:
        return f"No usage found for {filters}."
    if found:
        headline = "No usage found: the agent logs llmledger found hold no usage yet."
    else:
        headline = "No usage found: none of these coding agents has logs on this machine."
    lines = [headline, "Looked for:"]
    width = max((len(title) for title in agents), default=0)
    for title, places in agents.items():
        for number, root in enumerate(places):
            label = "" if number else title
            lines.append(f"  {label:<{width}}  {tilde(root.path, home)}{_state(root)}")
    if filters:
        lines.append(f"(filters: {filters})")
    if found:
        lines.append("'llmledger scan -v' shows what was read and skipped.")
    else:
        lines.append(NEXT_STEPS)
    return "\n".join(lines)


def _state(root: Root) -> str:
    if root.state == "found":
        return "  (found)"
    if root.state == "unreadable":
        return f"  (cannot be read: {root.reason})"
    return ""

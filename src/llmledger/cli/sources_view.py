"""``llmledger sources``: per agent, where its logs are looked for, whether they were found,
the files and the events in the ledger, and what could not be read (and why).

The table fits the terminal: per-agent totals beyond files and events are left out first, then
paths are shortened in the middle (``~/.local/sh…age/message``); ``--json`` has them in full.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llmledger.cli.display import shorten_middle, tilde
from llmledger.query import EventFilter, Totals
from llmledger.report.render.table import Column, Style, Table, render

# Paths are not shortened below this many characters, even if the table then overflows.
MIN_PATH = 16


def _day(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1_000_000, timezone.utc).date().isoformat()


def sources_data(
    ledger: Any, names: list[str], scanned: Any = None, env: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """One entry per source in ``names``; ``scanned`` (a ScanResult, when a scan just ran) adds
    the files it could not read to each source's ``skipped``."""
    from llmledger.scan.discovery import discover, roots
    from llmledger.sources.no_counts import no_token_counts
    from llmledger.sources.registry import SOURCES

    env = os.environ if env is None else env
    in_ledger: dict[str, Totals] = {}
    for row in ledger.aggregate(EventFilter(equals={"source": tuple(names)}), ["source"]):
        in_ledger[str(row.key["source"])] = row.totals
    remembered: dict[str, int] = {}
    for cursor in ledger.scan_cursors().values():
        remembered[cursor.source] = remembered.get(cursor.source, 0) + 1
    unread_files = list(scanned.skipped) if scanned is not None else []
    data = []
    for name in names:
        source = SOURCES[name]
        found = discover(source, env)
        skipped = [
            {"path": path, "kind": "directory", "reason": reason}
            for path, reason in found.unreadable.items()
        ]
        skipped += [
            {"path": s.path, "kind": "file", "reason": s.reason}
            for s in unread_files
            if s.source == name
        ]
        totals = in_ledger.get(name, Totals())
        data.append(
            {
                "source": name,
                "title": source.title,
                "locations": [
                    {"path": str(root.path), "exists": root.state != "missing"}
                    for root in roots(source, env)
                ],
                "files": len(found.files),
                "filesRemembered": remembered.get(name, 0),
                "events": totals.events,
                "totalTokens": totals.total_tokens,
                "firstDate": _day(totals.first_ts),
                "lastDate": _day(totals.last_ts),
                "skipped": skipped,
                # An agent whose files hold no token counts: why nothing is read from them.
                "noTokenCounts": no_token_counts(source),
            }
        )
    return data


def _found(exists: bool, unreadable: bool) -> str:
    if unreadable:
        return "skipped"
    return "yes" if exists else "no"


def _table(data: list[dict[str, Any]], home: Path, limit: int) -> Table:
    table = Table(
        [
            Column("Agent", "left"),
            Column("Looked in", "left"),
            Column("Found", "left"),
            Column("Files"),
            Column("Events"),
            Column("Tokens", drop_order=1),
            Column("Last", "left", drop_order=2),
            Column("First", "left", drop_order=3),
        ],
        [],
        [],
    )
    for item in data:
        unreadable = {s["path"] for s in item["skipped"]}
        lines = [
            (loc["path"], _found(loc["exists"], loc["path"] in unreadable))
            for loc in item["locations"]
        ]
        roots = {path for path, _ in lines}
        lines += [(s["path"], "skipped") for s in item["skipped"] if s["path"] not in roots]
        for number, (path, state) in enumerate(lines):
            shown = shorten_middle(tilde(path, home), limit)
            if number:
                table.rows.append(["", shown, state, "", "", "", "", ""])
                continue
            table.rows.append(
                [
                    item["title"],
                    shown,
                    state,
                    f"{item['files']:,}",
                    f"{item['events']:,}",
                    f"{item['totalTokens']:,}",
                    item["lastDate"] or "-",
                    item["firstDate"] or "-",
                ]
            )
    return table


def sources_text(data: list[dict[str, Any]], width: int, style: Style, home: Path) -> str:
    """The table, as narrow as ``width`` allows, then one line per path that could not be read.

    Optional columns go first (the renderer drops them), then paths are shortened a character
    at a time until the table fits (or they reach ``MIN_PATH``)."""
    paths = [loc["path"] for item in data for loc in item["locations"]]
    paths += [s["path"] for item in data for s in item["skipped"]]
    limit = max((len(tilde(path, home)) for path in paths), default=0)
    while True:
        table = _table(data, home, limit)
        text, _ = render(table, width, Style())
        if max(len(line) for line in text.splitlines()) <= width or limit <= MIN_PATH:
            break
        limit -= 1
    text, _ = render(table, width, style)
    notes = [
        f"skipped {tilde(s['path'], home)} ({item['source']}): {s['reason']}"
        for item in data
        for s in item["skipped"]
    ]
    notes += [
        textwrap.fill(
            f"{item['title']}: no token counts on disk ({item['noTokenCounts']})",
            max(width, 40),
            subsequent_indent="  ",
        )
        for item in data
        if item.get("noTokenCounts")
    ]
    return "\n".join([text, *notes])

"""Grok CLI (superagent-ai/grok-cli): ``~/.grok/grok.db`` (SQLite, WAL mode; always in the home
directory, no variable moves it). Versions before the database (March 2026) kept no usage.

Table ``usage_events(id, session_id, message_seq, source, model, input_tokens, output_tokens,
total_tokens, cost_micros, created_at)``: one row per recorded usage, appended and never
changed. ``source`` says what it was for: ``message`` (an agent turn: the AI SDK's
``totalUsage`` of all its steps), ``task`` / ``delegation`` (a subagent's run), ``title``,
``recap``, ``other``. So a row is one event, id ``grok-cli:<session_id>:<id>``, its
``requests`` unknown (a turn can be several calls: ``details.requests_unknown``); only rows
after the last id seen are read again.

Fields: the AI SDK's ``inputTokens`` is the whole prompt, cache reads included, and the row
does not keep the cached part apart: all of it is input, priced at the input rate (an upper
bound where the cache was used; ``details.input_includes_cache``). Output = ``output_tokens``
as logged; a ``total_tokens`` that is not input + output is kept in
``details.reported_total_tokens``. Grok CLI's own estimate (``cost_micros``) is not used: the
price book prices the call. Project: the session's ``cwd_at_start``.

Verified against superagent-ai/grok-cli @ fb97af83 (``src/storage/db.ts``
``getDatabasePath``, ``src/storage/migrations.ts``, ``src/storage/usage.ts``
``recordUsageEvent``, ``src/agent/agent.ts`` ``recordUsage``, ``src/types/index.ts``
``UsageSource``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmledger.sources.base import FileParse, Record, home_dir, records_from, utc_from_iso
from llmledger.sources.sqlite_files import (
    DatabaseSource,
    DatabaseUnreadable,
    columns,
    read_database,
)
from llmledger.usage.counts import LOG_COUNT_LIMIT

NAME = "grok-cli"
NEEDED = {"id", "session_id", "model", "input_tokens", "output_tokens", "created_at"}


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LOG_COUNT_LIMIT:
        raise ValueError("not a token count")
    return value


def usage_record(row: Mapping[str, Any], project: str | None) -> Record | None:
    """Pure: one ``usage_events`` row as its record (None without usage). Raises ValueError
    for a row Grok CLI does not write."""
    fresh, output = _count(row["input_tokens"]), _count(row["output_tokens"])
    total = row.get("total_tokens")
    if not (fresh or output):
        return None
    moment = utc_from_iso(row["created_at"])
    if moment is None:
        raise ValueError("no time")
    details: dict[str, Any] = {"requests_unknown": True, "input_includes_cache": True}
    if isinstance(row.get("source"), str):
        details["grok_usage_source"] = row["source"]
    if isinstance(total, int) and not isinstance(total, bool) and total != fresh + output:
        details["reported_total_tokens"] = total
    model = row["model"] if isinstance(row["model"], str) and row["model"] else "unknown"
    return Record(
        id=f"{NAME}:{row['session_id']}:{row['id']}",
        ts=moment,
        model=model,
        provider="xai" if model.lower().startswith("grok") else None,
        input_tokens=fresh,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cache_write_1h_tokens=0,
        output_tokens=output,
        reasoning_tokens=0,
        session_id=str(row["session_id"]),
        project=project,
        details=details,
        rank=fresh + output,
    )


def parse_database(path: Path, carry: dict[str, Any] | None) -> FileParse:
    since = (carry or {}).get("last_id")
    start = since if isinstance(since, int) else 0

    def usage_rows(conn: sqlite3.Connection) -> list[Any]:
        present = columns(conn, "usage_events")
        if not present >= NEEDED:
            raise DatabaseUnreadable(f"{path} has no Grok CLI usage_events table")
        optional = [c if c in present else f"NULL AS {c}" for c in ("source", "total_tokens")]
        has_cwd = "cwd_at_start" in columns(conn, "sessions")
        cwd = "(SELECT cwd_at_start FROM sessions s WHERE s.id = u.session_id)"
        sql = (
            "SELECT u.id, u.session_id, u.model, u.input_tokens, u.output_tokens, u.created_at, "
            f"{', '.join(optional)}, {cwd if has_cwd else 'NULL'} FROM usage_events u"
            " WHERE u.id > ? ORDER BY u.id"
        )
        return conn.execute(sql, (start,)).fetchall()

    rows = read_database(path, usage_rows)
    names = ("id", "session_id", "model", "input_tokens", "output_tokens", "created_at")
    last = max([start, *(values[0] for values in rows if isinstance(values[0], int))])

    def row_record(values: tuple[object, ...]) -> Record | None:
        row = dict(zip((*names, "source", "total_tokens"), values[:-1]))
        return usage_record(row, values[-1] if isinstance(values[-1], str) else None)

    records, malformed = records_from(rows, row_record, (ValueError, TypeError, OverflowError))
    return FileParse(records, 0, malformed, {"last_id": last})


class GrokCli(DatabaseSource):
    name = NAME
    title = "Grok CLI"
    shortcut = "grok"  # llmledger daily --grok

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [home_dir(env) / ".grok" / "grok.db"]

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        return parse_database(path, carry)


SOURCE = GrokCli()

"""Hermes Agent (NousResearch/hermes-agent): ``$HERMES_HOME/state.db``, else ``~/.hermes/state.db``
(Windows: ``%LOCALAPPDATA%/hermes/state.db``), and each profile's
``<home>/profiles/<name>/state.db``. SQLite in WAL mode, opened read-only.

Hermes keeps no per-call rows; it keeps running totals, already split the way the ledger
splits them (``agent/usage_pricing.py`` ``normalize_usage``: ``input_tokens`` is the input
without the cache, ``cache_read_tokens`` / ``cache_write_tokens`` apart, ``output_tokens``
with the reasoning inside, ``reasoning_tokens`` its part):

- ``session_model_usage`` (newer versions): per session, model, billing route and task, the
  totals with ``api_call_count``, ``first_seen`` / ``last_seen`` (epoch seconds). Each row is
  one aggregate event, id ``hermes:<session>:<model>:<provider>:<base url>:<mode>:<task>``,
  dated at ``last_seen``, with its real request count.
- ``sessions``: per session the same totals. A session's usage that its model rows do not
  account for (all of it before those rows existed) is one more aggregate event,
  ``hermes:<session>``, dated at the session's end (else its start).

A later read replaces each event as its totals grow, so each token counts once.

Verified against NousResearch/hermes-agent @ 0ebb0462 (``hermes_state_usage.py``: the token
writer and ``session_model_usage`` upsert), the ``SCHEMA_SQL`` of its state store, and
``hermes_constants.py`` @ 00067189 (``get_hermes_home``) and ``agent/usage_pricing.py``
(``normalize_usage``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llmledger.sources.base import FileParse, Record, SourceFile, home_dir, records_from
from llmledger.sources.sqlite_files import (
    DatabaseSource,
    DatabaseUnreadable,
    columns,
    database_files,
    read_database,
    select_rows,
)
from llmledger.usage.counts import LOG_COUNT_LIMIT

NAME = "hermes"
DATABASE = "state.db"
COUNTERS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")
PROVIDERS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai-codex": "openai",
    "gemini": "gemini",
    "google": "gemini",
    "xai": "xai",
    "deepseek": "deepseek",
    "moonshot": "moonshot",
    "kimi": "moonshot",
    "mistral": "mistral",
}


def hermes_home(env: Mapping[str, str]) -> Path:
    configured = env.get("HERMES_HOME", "").strip()
    if configured:
        return Path(configured).expanduser()
    local = env.get("LOCALAPPDATA", "").strip()
    if local and not (home_dir(env) / ".hermes").is_dir():
        return Path(local) / "hermes"
    return home_dir(env) / ".hermes"


def _count(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value > LOG_COUNT_LIMIT:
        raise ValueError("not a token count")
    return max(value, 0)


def _time(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _record(
    event_id: str,
    session: str,
    moment: datetime,
    counts: dict[str, int],
    model: object,
    provider: object,
    requests: int | None,
    project: object,
) -> Record:
    reasoning = min(counts.get("reasoning_tokens", 0), counts["output_tokens"])
    details: dict[str, Any] = {"session_aggregate": True}
    if requests is None:
        details["requests_unknown"] = True
    return Record(
        id=event_id,
        ts=moment,
        model=model.strip() if isinstance(model, str) and model.strip() else "unknown",
        provider=PROVIDERS.get(provider.lower()) if isinstance(provider, str) else None,
        input_tokens=counts["input_tokens"],
        cache_read_tokens=counts["cache_read_tokens"],
        cache_write_tokens=counts["cache_write_tokens"],
        cache_write_1h_tokens=0,
        output_tokens=counts["output_tokens"],
        reasoning_tokens=reasoning,
        session_id=session,
        project=project if isinstance(project, str) and project else None,
        requests=requests if requests is not None else 0,
        details=details,
        rank=sum(counts[c] for c in COUNTERS),
    )


def model_rows(rows: list[dict[str, Any]], cwd: Mapping[str, object]) -> tuple[list[Record], int]:
    """Pure: the events of ``session_model_usage`` rows, and how many rows were malformed."""
    records, malformed = [], 0
    for row in rows:
        try:
            counts = {c: _count(row.get(c)) for c in (*COUNTERS, "reasoning_tokens")}
            calls = _count(row.get("api_call_count"))
        except ValueError:
            malformed += 1
            continue
        if not any(counts[c] for c in COUNTERS):
            continue
        moment = _time(row.get("last_seen")) or _time(row.get("first_seen"))
        if moment is None:
            malformed += 1
            continue
        session = str(row["session_id"])
        route = ":".join(
            str(row.get(k) or "")
            for k in ("model", "billing_provider", "billing_base_url", "billing_mode", "task")
        )
        records.append(
            _record(
                f"{NAME}:{session}:{route}",
                session,
                moment,
                counts,
                row.get("model"),
                row.get("billing_provider"),
                calls or None,
                cwd.get(session),
            )
        )
    return records, malformed


def session_rest(row: Mapping[str, Any], accounted: Mapping[str, int] | None) -> Record | None:
    """Pure: a ``sessions`` row's usage beyond what its model rows account for (all of it
    when it has none), as one event; None when nothing is left. Raises ValueError."""
    totals = {c: _count(row.get(c)) for c in (*COUNTERS, "reasoning_tokens", "api_call_count")}
    rest = {c: max(0, totals[c] - (accounted or {}).get(c, 0)) for c in totals}
    if not any(rest[c] for c in COUNTERS):
        return None
    moment = _time(row.get("ended_at")) or _time(row.get("started_at"))
    if moment is None:
        raise ValueError("a session without a time")
    session = str(row["id"])
    calls = rest["api_call_count"]
    return _record(
        f"{NAME}:{session}",
        session,
        moment,
        rest,
        row.get("model"),
        row.get("billing_provider"),
        calls or None,
        row.get("cwd"),
    )


_MODEL_COLUMNS = (
    "session_id",
    "model",
    "billing_provider",
    "billing_base_url",
    "billing_mode",
    "task",
    "api_call_count",
    *COUNTERS,
    "reasoning_tokens",
    "first_seen",
    "last_seen",
)
_SESSION_COLUMNS = (
    "id",
    "model",
    "billing_provider",
    "cwd",
    "started_at",
    "ended_at",
    "api_call_count",
    *COUNTERS,
    "reasoning_tokens",
)


def parse_database(path: Path) -> FileParse:
    def tables(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if not {"id", "input_tokens", "output_tokens"} <= columns(conn, "sessions"):
            raise DatabaseUnreadable(f"{path} has no Hermes sessions table")
        sessions = select_rows(conn, "sessions", _SESSION_COLUMNS)
        return sessions, select_rows(conn, "session_model_usage", _MODEL_COLUMNS)

    sessions, by_model = read_database(path, tables)
    cwd = {str(row["id"]): row.get("cwd") for row in sessions}
    records, malformed = model_rows(by_model, cwd)
    accounted: dict[str, dict[str, int]] = {}
    for record in records:
        parts = (
            record.input_tokens,
            record.cache_read_tokens,
            record.cache_write_tokens,
            record.output_tokens,
            record.reasoning_tokens,
            record.requests,
        )
        sums = accounted.setdefault(record.session_id or "", {})
        for counter, value in zip((*COUNTERS, "reasoning_tokens", "api_call_count"), parts):
            sums[counter] = sums.get(counter, 0) + value
    rest, rejected = records_from(
        sessions, lambda row: session_rest(row, accounted.get(str(row["id"]))), ValueError
    )
    return FileParse(records + rest, 0, malformed + rejected, None)


def databases(env: Mapping[str, str]) -> list[Path]:
    """The state databases of the Hermes home and of each of its profiles (present or not)."""
    home = hermes_home(env)
    found = [home / DATABASE]
    try:
        profiles = sorted(p for p in (home / "profiles").iterdir() if not p.name.startswith("."))
    except OSError:
        profiles = []
    return [*found, *(p / DATABASE for p in profiles)]


class Hermes(DatabaseSource):
    name = NAME
    title = "Hermes Agent"
    shortcut = "hermes"  # llmledger daily --hermes

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [hermes_home(env) / DATABASE]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        return database_files(NAME, databases(env))

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        return parse_database(path)


SOURCE = Hermes()

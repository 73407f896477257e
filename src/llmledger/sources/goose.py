"""Goose (block/goose): ``<data>/sessions/sessions.db``, ``<data>`` being
``$GOOSE_PATH_ROOT/data`` (when absolute), else ``${XDG_DATA_HOME:-~/.local/share}/goose``
(Linux and macOS: Goose uses etcetera's ``choose_app_strategy``, XDG outside Windows), else on
Windows ``%APPDATA%/Block/goose/data``.

Goose keeps no per-call usage: a ``sessions`` row holds the session's running totals,
``accumulated_input_tokens`` and ``accumulated_output_tokens`` (``accumulated_total_tokens``
beside them), updated after every turn, with ``provider_name`` and ``model_config_json``
(``{"model_name": …}``). So a session is one aggregate event, id ``goose:<session id>``, dated
at the row's ``updated_at`` and replaced by a later read as the totals grow (``requests = 0``:
the row does not count calls). Goose's input count includes cache reads and writes
(``Usage::from_cache_exclusive_input`` folds them in) and the totals do not keep them apart, so
all of it is input, priced at the input rate: an upper bound where the cache was used
(``details.input_includes_cache``). The database is opened read-only and re-read when it or its
write-ahead log changes.

Verified against block/goose @ dbec1655 (``crates/goose/src/session/session_manager.rs``
``create_schema``), @ 0780e228 (``crates/goose/src/config/paths.rs``) and the ``Usage`` type
of ``crates/goose/src/providers/base.rs`` (``from_cache_exclusive_input``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import (
    FileParse,
    Record,
    nonnegative,
    records_from,
    utc_from_iso,
    xdg_dir,
)
from llmledger.sources.sqlite_files import (
    DatabaseSource,
    DatabaseUnreadable,
    columns,
    read_database,
    select_rows,
)
from llmledger.usage.counts import LOG_COUNT_LIMIT

NAME = "goose"
DATABASE = "sessions.db"
PROVIDERS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "google": "gemini",
    "gemini_cli": "gemini",
    "xai": "xai",
    "deepseek": "deepseek",
    "mistral": "mistral",
}


def data_dir(env: Mapping[str, str]) -> Path:
    root = env.get("GOOSE_PATH_ROOT", "")
    if root and os.path.isabs(root):
        return Path(root) / "data"
    appdata = env.get("APPDATA", "").strip()
    if appdata and not env.get("XDG_DATA_HOME"):
        windows = Path(appdata) / "Block" / "goose" / "data"
        if windows.is_dir():
            return windows
    return xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "goose"


def parse_time(value: object) -> datetime | None:
    """Pure: a Goose timestamp (SQLite's ``YYYY-MM-DD HH:MM:SS`` in UTC, or RFC 3339 as sqlx
    writes a chrono time) as an aware UTC datetime; None when it is not one."""
    return utc_from_iso(value.strip() if isinstance(value, str) else value)


def model_name(model_config_json: object) -> str | None:
    """Pure: ``model_name`` of a session's ``model_config_json`` (None when absent)."""
    if not isinstance(model_config_json, str):
        return None
    try:
        config = msgspec.json.decode(model_config_json)
    except (msgspec.DecodeError, RecursionError):
        return None
    name = config.get("model_name") if isinstance(config, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _count(value: object) -> int | None:
    """A stored count; None when it is not one a real database holds."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value > LOG_COUNT_LIMIT:
        return None
    return nonnegative(value)


def session_record(row: Mapping[str, Any]) -> Record | None:
    """Pure: one ``sessions`` row as its aggregate record (None when it has no usage).
    Raises ValueError for a row no Goose writes (bad counts or time)."""
    fresh, output = (
        _count(row.get("accumulated_input_tokens")),
        _count(row.get("accumulated_output_tokens")),
    )
    if fresh is None or output is None:
        raise ValueError("token counts that are not counts")
    if not (fresh or output):
        return None
    moment = parse_time(row.get("updated_at")) or parse_time(row.get("created_at"))
    if moment is None:
        raise ValueError("a session without a time")
    session = str(row["id"])
    provider = row.get("provider_name")
    working_dir = row.get("working_dir")
    return Record(
        id=f"{NAME}:{session}",
        ts=moment,
        model=model_name(row.get("model_config_json")) or "unknown",
        provider=PROVIDERS.get(provider.lower()) if isinstance(provider, str) else None,
        input_tokens=fresh,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cache_write_1h_tokens=0,
        output_tokens=output,
        reasoning_tokens=0,
        session_id=session,
        project=working_dir if isinstance(working_dir, str) and working_dir else None,
        requests=0,  # the row does not count the session's calls
        details={"session_aggregate": True, "requests_unknown": True, "input_includes_cache": True},
        rank=fresh + output,
    )


_COLUMNS = (
    "id",
    "accumulated_input_tokens",
    "accumulated_output_tokens",
    "provider_name",
    "model_config_json",
    "working_dir",
    "created_at",
    "updated_at",
)


def parse_database(path: Path) -> FileParse:
    def sessions(conn: sqlite3.Connection) -> list[dict[str, object]]:
        present = columns(conn, "sessions")
        if not {"id", "accumulated_input_tokens", "accumulated_output_tokens"} <= present:
            raise DatabaseUnreadable(f"{path} has no Goose sessions table")
        return select_rows(conn, "sessions", _COLUMNS)

    rows = read_database(path, sessions)
    records, malformed = records_from(rows, session_record, ValueError)
    return FileParse(records, 0, malformed, None)


class Goose(DatabaseSource):
    name = NAME
    title = "Goose"
    shortcut = "goose"  # llmledger daily --goose

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [data_dir(env) / "sessions" / DATABASE]

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        return parse_database(path)


SOURCE = Goose()

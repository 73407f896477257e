"""Zed's agent (zed-industries/zed, the Agent Panel's own threads): ``<data>/threads/threads.db``,
``<data>`` being ``${FLATPAK_XDG_DATA_HOME:-${XDG_DATA_HOME:-~/.local/share}}/zed`` (Linux),
``~/Library/Application Support/Zed`` (macOS) or ``%LOCALAPPDATA%/Zed`` (Windows).

Table ``threads(id, summary, updated_at, data_type, data, parent_id, …)``: ``data`` is the
thread as JSON, zstd-compressed when ``data_type`` is ``zstd`` (what Zed writes) or plain when
``json``. The thread keeps ``cumulative_token_usage`` (``input_tokens``, ``output_tokens``,
``cache_creation_input_tokens``, ``cache_read_input_tokens``: Zed's ``TokenUsage``, whose
total adds all four, so input leaves the cache out) and ``model`` (``{provider, model}``),
not per-call usage. So a thread is one aggregate event, id ``zed:<thread id>``, dated at its
``updated_at`` and replaced by a later read as it grows (``requests = 0``: calls are not
counted). A subagent's thread (``parent_id``) is a thread of its own. Reading zstd needs the
``zstandard`` package (``pip install zstandard``); without it the database is
skipped with that reason. Not read: threads of external agents run in Zed (Claude Code,
Gemini CLI, Codex: their own logs are read as theirs) and the first agent's LMDB store.

Verified against zed-industries/zed @ 0642ec7e (``crates/agent/src/db.rs``: ``DbThread``,
``ThreadsDatabase::new``, ``save_thread_sync``), @ 9e9192f6
(``crates/language_model/src/language_model.rs``: ``TokenUsage``) and ``legacy_thread.rs``
(``SerializedLanguageModel``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import (
    Count,
    FileParse,
    Record,
    home_dir,
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
)

NAME = "zed"
MAX_THREAD_BYTES = 1 << 30  # a decompressed thread larger than this is not one Zed wrote
PROVIDERS = {
    "anthropic": "anthropic",
    "openai": "openai",
    "google": "gemini",
    "x_ai": "xai",
    "xai": "xai",
    "deepseek": "deepseek",
    "mistral": "mistral",
}


class _TokenUsage(msgspec.Struct):
    input_tokens: Count | None = None
    output_tokens: Count | None = None
    cache_creation_input_tokens: Count | None = None
    cache_read_input_tokens: Count | None = None


class _Model(msgspec.Struct):
    provider: str | None = None
    model: str | None = None


class _Thread(msgspec.Struct):
    updated_at: str | None = None
    cumulative_token_usage: _TokenUsage | None = None
    model: _Model | None = None


_decode_thread = msgspec.json.Decoder(_Thread).decode


class Malformed(Exception):
    """A thread row that is not what Zed writes."""


def data_dir(env: Mapping[str, str]) -> Path:
    """Zed's data directory, present or not: Linux's unless only macOS's or Windows's exists."""
    flatpak = env.get("FLATPAK_XDG_DATA_HOME", "").strip()
    linux = (
        Path(flatpak) / "zed" if flatpak else xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "zed"
    )
    mac = home_dir(env) / "Library" / "Application Support" / "Zed"
    local = env.get("LOCALAPPDATA", "").strip()
    for candidate in (linux, mac, *([Path(local) / "Zed"] if local else [])):
        if (candidate / "threads").is_dir():
            return candidate
    return linux


def thread_json(data_type: object, data: object) -> bytes:
    """The thread's JSON from a row's ``data_type`` and ``data``. Raises Malformed, or OSError
    when zstd is needed and ``zstandard`` is not installed."""
    if not isinstance(data, (bytes, str)):
        raise Malformed("thread data that is not a blob")
    raw = data.encode() if isinstance(data, str) else data
    if data_type == "json":
        return raw
    if data_type != "zstd":
        raise Malformed(f"unknown data type {data_type!r}")
    try:
        import zstandard
    except ImportError:
        raise OSError("Zed's threads are zstd-compressed: pip install zstandard") from None
    try:
        # A stream: Zed's frames do not state their size; read at most MAX_THREAD_BYTES.
        with zstandard.ZstdDecompressor().stream_reader(raw) as reader:
            text = reader.read(MAX_THREAD_BYTES + 1)
    except zstandard.ZstdError as exc:
        raise Malformed(f"not zstd: {exc}") from None
    if len(text) > MAX_THREAD_BYTES:
        raise Malformed("a thread larger than any Zed writes")
    return bytes(text)


def thread_record(thread_id: str, updated_at: object, json_data: bytes) -> Record | None:
    """Pure: a thread's usage as one aggregate record (None without usage). Raises Malformed."""
    try:
        thread = _decode_thread(json_data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    usage = thread.cumulative_token_usage
    if usage is None:
        return None
    fresh, output = nonnegative(usage.input_tokens), nonnegative(usage.output_tokens)
    cache_read = nonnegative(usage.cache_read_input_tokens)
    cache_write = nonnegative(usage.cache_creation_input_tokens)
    if not (fresh or output or cache_read or cache_write):
        return None
    moment = utc_from_iso(updated_at) or utc_from_iso(thread.updated_at)
    if moment is None:
        raise Malformed("a thread without a time")
    model = thread.model
    provider = (model.provider or "").lower() if model else ""
    return Record(
        id=f"{NAME}:{thread_id}",
        ts=moment,
        model=(model.model if model and model.model else None) or "unknown",
        provider=PROVIDERS.get(provider),
        input_tokens=fresh,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=0,
        output_tokens=output,
        reasoning_tokens=0,
        session_id=thread_id,
        project=None,
        requests=0,  # the thread keeps totals, not calls
        details={"session_aggregate": True, "requests_unknown": True},
        rank=fresh + output + cache_read + cache_write,
    )


def _row_record(row: tuple[object, object, object, object]) -> Record | None:
    thread_id, updated_at, data_type, data = row
    return thread_record(str(thread_id), updated_at, thread_json(data_type, data))


def parse_database(path: Path) -> FileParse:
    def threads(conn: sqlite3.Connection) -> list[Any]:
        if not {"id", "updated_at", "data_type", "data"} <= columns(conn, "threads"):
            raise DatabaseUnreadable(f"{path} has no Zed threads table")
        return conn.execute("SELECT id, updated_at, data_type, data FROM threads").fetchall()

    rows = read_database(path, threads)
    records, malformed = records_from(rows, _row_record, Malformed)
    return FileParse(records, 0, malformed, None)


class Zed(DatabaseSource):
    name = NAME
    title = "Zed agent"
    shortcut = "zed"  # llmledger daily --zed

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [data_dir(env) / "threads" / "threads.db"]

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        return parse_database(path)


SOURCE = Zed()

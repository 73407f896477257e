"""OpenCode: ``${XDG_DATA_HOME:-~/.local/share}/opencode/``.

Since v1.2 messages live in SQLite (``opencode.db``, channel builds ``opencode-<channel>.db``):
table ``message(id, session_id, …, data)`` where ``data`` is the message JSON without its id and
session id. The database is opened read-only (OpenCode keeps it in WAL mode while it runs) and,
when it has a ``time_updated`` column, re-read only from the last update seen. Older versions
wrote one JSON file per message under ``storage/message/<sessionID>/msg_<id>.json``. Both are
read; the id ``opencode:<messageId>`` makes a message found in both count once.

Only assistant messages carry usage. ``tokens.input`` excludes the cache; ``tokens.output``
excludes ``reasoning``, which is billed as output (ledger output = output + reasoning).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import (
    Count,
    FileParse,
    Fingerprint,
    Record,
    SourceFile,
    fingerprint,
    nonnegative,
    utc_from_ms,
    xdg_dir,
)
from llmledger.sources.sqlite_files import (
    DatabaseUnreadable,
    databases_in,
    read_database,
    wal_fingerprint,
)
from llmledger.sources.walk import walk_files

NAME = "opencode"


class _Cache(msgspec.Struct):
    read: Count | None = None
    write: Count | None = None


class _Tokens(msgspec.Struct):
    input: Count | None = None
    output: Count | None = None
    reasoning: Count | None = None
    cache: _Cache | None = None


class _Time(msgspec.Struct):
    created: float | None = None
    completed: float | None = None


class _Path(msgspec.Struct):
    cwd: str | None = None
    root: str | None = None


class _Message(msgspec.Struct):
    id: str | None = None
    sessionID: str | None = None
    role: str | None = None
    time: _Time | None = None
    modelID: str | None = None
    providerID: str | None = None
    tokens: _Tokens | None = None
    path: _Path | None = None


_decode_message = msgspec.json.Decoder(_Message).decode


class Malformed(Exception):
    """A message that is not valid OpenCode message JSON."""


def parse_message(
    data: bytes | str, message_id: str | None = None, session_id: str | None = None
) -> Record | None:
    """Pure: one message JSON (ids from the row when the JSON leaves them out) to its record."""
    try:
        message = _decode_message(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    identifier = message.id or message_id
    if message.role != "assistant" or message.tokens is None or not identifier:
        return None
    created = message.time.created if message.time is not None else None
    if created is None:
        return None
    tokens = message.tokens
    reasoning = nonnegative(tokens.reasoning)
    output = nonnegative(tokens.output) + reasoning
    cache_read = nonnegative(tokens.cache.read) if tokens.cache else 0
    cache_write = nonnegative(tokens.cache.write) if tokens.cache else 0
    fresh = nonnegative(tokens.input)
    if not (fresh or output or cache_read or cache_write):
        return None
    project = None
    if message.path is not None:
        project = message.path.cwd or message.path.root
    return Record(
        id=f"opencode:{identifier}",
        ts=utc_from_ms(created),
        model=message.modelID or "unknown",
        provider=message.providerID or None,
        input_tokens=fresh,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=0,
        output_tokens=output,
        reasoning_tokens=reasoning,
        session_id=message.sessionID or session_id,
        project=project,
        rank=fresh + output + cache_read + cache_write,
    )


def parse_database(path: Path, carry: dict[str, Any] | None) -> FileParse:
    """All assistant messages in an OpenCode database (those updated since ``carry``'s mark)."""
    since = (carry or {}).get("time_updated")

    def messages(conn: sqlite3.Connection) -> tuple[list[Record], int, int | None]:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(message)")}
        if not {"id", "data"} <= columns:
            raise DatabaseUnreadable(f"{path} has no OpenCode message table")
        session_column = "session_id" if "session_id" in columns else "NULL"
        incremental = "time_updated" in columns
        sql = f"SELECT id, {session_column}, data"
        sql += ", time_updated" if incremental else ", NULL"
        sql += " FROM message WHERE instr(data, '\"assistant\"') > 0"
        params: list[Any] = []
        if incremental and isinstance(since, int):
            sql += " AND time_updated >= ?"
            params.append(since)
        records: list[Record] = []
        malformed = 0
        mark = since if isinstance(since, int) else None
        for message_id, session_id, data, updated in conn.execute(sql, params):
            if isinstance(updated, int) and (mark is None or updated > mark):
                mark = updated
            if not isinstance(data, (str, bytes)):
                malformed += 1
                continue
            try:
                record = parse_message(data, message_id, session_id)
            except Malformed:
                malformed += 1
                continue
            if record is not None:
                records.append(record)
        return records, malformed, mark

    records, malformed, mark = read_database(path, messages)
    new_carry = {"time_updated": mark} if mark is not None else None
    return FileParse(records, 0, malformed, new_carry)


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    if path.suffix == ".db":
        return parse_database(path, carry)
    data = path.read_bytes()
    stem = path.stem
    try:
        record = parse_message(data, stem, path.parent.name)
    except Malformed:
        return FileParse([], len(data), 1, None)
    return FileParse([record] if record else [], len(data), 0, None)


def data_dir(env: Mapping[str, str]) -> Path:
    return xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "opencode"


def _is_database(name: str) -> bool:
    return name == "opencode.db" or (name.startswith("opencode-") and name.endswith(".db"))


class OpenCode:
    name = NAME
    title = "OpenCode"
    shortcut = "opencode"  # llmledger daily --opencode

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        base = data_dir(env)
        return [base, base / "storage" / "message"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        base, legacy = self.roots(env)
        yield from databases_in(NAME, base, _is_database)
        accept = lambda name: name.startswith("msg_") and name.endswith(".json")  # noqa: E731
        for path in walk_files(legacy, accept, max_depth=2):
            yield SourceFile(NAME, path, "document")

    parse = staticmethod(parse_file)

    def fingerprint(self, path: str) -> Fingerprint:
        """A database's state includes its write-ahead log, where recent writes sit."""
        if not path.endswith(".db"):
            return fingerprint(path)
        return wal_fingerprint(path)


SOURCE = OpenCode()

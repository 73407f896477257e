"""What every agent-log source shares: the compact record a parser emits, the result of parsing
one file (or the appended part of it), and the protocol a source module implements.

Parsers run in worker processes, so what they return must pickle cheaply: a ``Record`` is a
plain tuple of primitives, turned into a ``UsageEvent`` only in the process that writes the
ledger (``to_event``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

import msgspec

from llmledger.events import UsageEvent
from llmledger.usage.counts import LogCount

# A token count a log may hold (larger ones are corruption: the line is malformed).
Count = LogCount

# A source file is read either as appended lines (``jsonl``: a byte offset is remembered),
# as one document re-read whenever it changes (``document``), or as an SQLite database.
FileKind = Literal["jsonl", "document", "sqlite"]


def nonnegative(value: int | None) -> int:
    """A decoded count as parsers use it: missing or negative counts are 0."""
    return value if value is not None and value > 0 else 0


T = TypeVar("T")


def records_from(
    items: Iterable[T],
    record: Callable[[T], Record | None],
    malformed: type[Exception] | tuple[type[Exception], ...],
) -> tuple[list[Record], int]:
    """The records ``record`` makes of ``items`` (None: an item without usage), and how many
    items it rejected by raising ``malformed``."""
    records: list[Record] = []
    rejected = 0
    for item in items:
        try:
            made = record(item)
        except malformed:
            rejected += 1
            continue
        if made is not None:
            records.append(made)
    return records, rejected


# Preference among copies of one event id inside a scan: non-sidechain copies first, then the
# copy with the most tokens (see notes/agent-logs.md). Encoded in one integer, bigger wins.
PRIMARY_BONUS = 1 << 62


class Record(NamedTuple):
    """One billable call as a parser reports it (cheap to pickle, no validation yet)."""

    id: str
    ts: datetime
    model: str
    provider: str | None
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    reasoning_tokens: int
    session_id: str | None
    project: str | None
    requests: int = 1
    details: dict[str, Any] | None = None
    account: str | None = None
    rank: int = 0  # dedup preference inside one scan; see PRIMARY_BONUS

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.cache_write_1h_tokens
            + self.output_tokens
        )


def ranked(record: Record, *, primary: bool = True) -> Record:
    """The record with its dedup rank set: primary copies beat sidechain replays, then size."""
    rank = record.total_tokens + (PRIMARY_BONUS if primary else 0)
    return record._replace(rank=rank)


def to_event(record: Record, source: str) -> UsageEvent:
    # Positional: about 40 % cheaper than keywords, and this runs once per event of a scan.
    # The order is UsageEvent's field order (tests/sources/test_records.py checks it).
    return UsageEvent(
        record.model,
        record.ts,
        record.id,
        source,
        record.provider,
        record.input_tokens,
        record.cache_read_tokens,
        record.cache_write_tokens,
        record.cache_write_1h_tokens,
        record.output_tokens,
        record.reasoning_tokens,
        None,  # cost_nanos
        "unpriced",  # cost_status
        None,  # price_version
        False,  # estimated
        record.requests,
        None,  # user_id
        None,  # org_id
        record.account,
        None,  # api_key_id
        record.session_id,
        record.project,
        None,  # request_type
        (),  # tags
        None,  # latency_ms
        True,  # success
        None,  # status
        record.details,
    )


def without_unstorable(parsed: FileParse) -> FileParse:
    """``parsed`` minus records whose time cannot become UTC (a year-1 or year-9999 timestamp
    with an offset that crosses datetime's range); each counts as a malformed entry."""
    records = parsed.records
    if records:
        years = {record.ts.year for record in records}
        if min(years) <= 1 or max(years) >= 9999:
            kept = [r for r in records if 1 < r.ts.year < 9999]
            parsed.malformed += len(records) - len(kept)
            parsed.records = kept
    return parsed


def keep_best(
    records: Iterable[Record], into: dict[str, Record] | None = None
) -> dict[str, Record]:
    """Collapse copies of one id to the preferred one (highest rank; on a tie the later copy)."""
    best = {} if into is None else into
    for record in records:
        seen = best.get(record.id)
        if seen is None or record.rank >= seen.rank:
            best[record.id] = record
    return best


def events_to_write(
    buckets: dict[str, dict[str, Record]],
    written: dict[str, int],
    replaced: set[str],
) -> list[UsageEvent]:
    """The events of de-duplicated records per source; each id's rank goes into ``written``
    (id -> rank of the copy sent to the store). Ids an earlier batch of the scan wrote go into
    ``replaced``: the copy here outranks that one (the caller filtered out those that do not),
    so the store must replace it even when it has fewer tokens (a primary copy over a
    sidechain replay)."""
    events = []
    for source, bucket in buckets.items():
        for record in bucket.values():
            if record.id in written:
                replaced.add(record.id)
            written[record.id] = record.rank
            events.append(to_event(record, source))
    return events


class FileParse(msgspec.Struct):
    """What parsing one file (from a byte offset) produced.

    ``end_offset`` is where the next incremental read starts (always just after a complete
    line); ``carry`` is the parser state that reading from there needs (e.g. Codex's model and
    last cumulative total); ``complete`` is False when the parser stopped at its byte budget
    and the rest of the file is still to be read.
    """

    records: list[Record]
    end_offset: int
    malformed: int = 0
    carry: dict[str, Any] | None = None
    complete: bool = True


# Structs, not dataclasses, here and in llmledger.scan: every report imports these modules and
# a dataclass takes ~0.8 ms to create (a Struct ~0.03 ms). Fingerprint and SourceFile are also
# made for every file on every scan (3,000+ on a warm run): ~8x faster than frozen dataclasses.
class Fingerprint(msgspec.Struct, frozen=True):
    """Identity and state of a file on disk: a change in any field means "read it again"."""

    device: int
    inode: int
    size: int
    mtime_ns: int


def fingerprint(path: str | Path) -> Fingerprint:
    """``os.stat`` of a file; raises OSError when it is gone or unreadable."""
    st = os.stat(path)
    return Fingerprint(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class SourceFile(msgspec.Struct, frozen=True):
    """One file a source reads."""

    source: str
    path: str
    kind: FileKind


class Location(msgspec.Struct):
    """A place a source looks in, for ``llmledger sources``."""

    path: Path
    exists: bool
    files: int = 0
    notes: list[str] = msgspec.field(default_factory=list)


class Source(Protocol):
    """An agent whose local logs become UsageEvents. Each source module exposes one."""

    name: str  # the ``source`` value of its events, e.g. "claude-code"
    title: str  # for people, e.g. "Claude Code"
    shortcut: str | None  # the reports' flag for ``--source name``, e.g. "claude" (--claude)

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        """Where this source looks (directories or files), derived from ``env``."""
        ...

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        """Every file to read, in a stable order."""
        ...

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        """Parse ``path`` from ``offset`` (0 for documents and databases), reading at most
        about ``budget`` bytes. Raises OSError when the file cannot be read."""
        ...

    def fingerprint(self, path: str) -> Fingerprint:
        """The file's identity and state (databases fold in their write-ahead log)."""
        ...


class FileSource:
    """What most sources share: a log file's identity is the file's own (databases that fold
    in their write-ahead log define ``fingerprint`` themselves)."""

    def fingerprint(self, path: str) -> Fingerprint:
        return fingerprint(path)


def home_dir(env: Mapping[str, str]) -> Path:
    home = env.get("HOME") or env.get("USERPROFILE")
    return Path(home).expanduser() if home else Path.home()


def env_dir(env: Mapping[str, str], variable: str, default: str) -> Path:
    """An agent's home: ``$variable`` when set (e.g. ``CODEX_HOME``), else ``~/<default>``."""
    configured = env.get(variable, "").strip()
    return Path(configured).expanduser() if configured else home_dir(env) / default


def xdg_dir(env: Mapping[str, str], variable: str, default: str) -> Path:
    """An XDG base directory: ``$variable`` when set and absolute, else ``~/<default>``."""
    value = env.get(variable, "")
    if value and os.path.isabs(os.path.expanduser(value)):
        return Path(value).expanduser()
    return home_dir(env) / default


def utc_from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, timezone.utc)


def utc_from_iso(value: object) -> datetime | None:
    """ISO 8601 text (a ``Z``, an offset, or none: UTC) as an aware UTC datetime; None when
    ``value`` is not such text."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)

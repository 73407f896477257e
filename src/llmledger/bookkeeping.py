"""What a ledger keeps beside usage events: how far each agent-log file was read (``ScanCursor``)
and the gateway's client keys (``KeyRecord``, hashes only); and ``ScanProcess``, a store's way
of writing a big scan from a process of its own. Every Store speaks these types; the scan, the
CLI and the gateway get them through the Ledger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from llmledger.events import UsageEvent


# msgspec Structs, not dataclasses: every run loads this module, and a dataclass costs ~3.5 M
# instructions to create at import (a Struct ~0.1 M).
class ScanCursor(msgspec.Struct):
    """What a previous scan read of one log file."""

    path: str
    source: str
    device: int | None
    inode: int | None
    size: int
    mtime_ns: int
    offset: int
    carry: dict[str, Any] | None
    events: int
    malformed: int


class KeyRecord(msgspec.Struct, frozen=True):
    """One issued key. ``prefix`` is the first characters of the key, for recognising it."""

    id: str
    key_hash: str
    prefix: str
    user_id: str
    org_id: str | None = None
    project: str | None = None
    name: str | None = None
    created_at: int = 0  # microseconds since the epoch, UTC
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class KeyStorage(Protocol):
    """The key operations of a Store (store/base.py)."""

    def add_key(self, record: KeyRecord) -> KeyRecord: ...

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyRecord]: ...

    def get_key(self, key_id: str) -> KeyRecord | None: ...

    def find_key(self, key_hash: str) -> KeyRecord | None: ...

    def revoke_key(self, key_id: str) -> bool: ...


class Keys:
    """A ledger's keys, as ``Ledger.keys`` hands them out: create, list, find and revoke."""

    def __init__(self, storage: KeyStorage) -> None:
        self._storage = storage

    def add(self, record: KeyRecord) -> KeyRecord:
        """Store a new key; returns it with ``created_at`` set."""
        return self._storage.add_key(record)

    def all(self, *, include_revoked: bool = True) -> list[KeyRecord]:
        return self._storage.list_keys(include_revoked=include_revoked)

    def active(self) -> list[KeyRecord]:
        return self._storage.list_keys(include_revoked=False)

    def get(self, key_id: str) -> KeyRecord | None:
        return self._storage.get_key(key_id)

    def find_hash(self, key_hash: str) -> KeyRecord | None:
        return self._storage.find_key(key_hash)

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by id; False when no active key has that id."""
        return self._storage.revoke_key(key_id)


class ScanProcess(Protocol):
    """A process that writes a big scan's batches to the ledger while the scan goes on.

    Workers turn each file's priced events (one copy per id) and their dedup ranks into bytes
    with ``pack``; the scan hands each batch (those bytes per file, and the files' cursors) to
    ``submit``, which writes it in ONE transaction and de-duplicates across batches. The counts
    returned are rows written by the batches answered since the last call."""

    @property
    def pack(self) -> Callable[[Sequence[UsageEvent], Sequence[int]], bytes]:
        """Runs in the scan's workers: a file's priced events and their ranks, packed."""
        ...

    def submit(self, packed: list[bytes], cursors: list[ScanCursor]) -> int: ...

    def busy(self) -> bool:
        """True while it has as many batches as it takes."""
        ...

    def starved(self) -> bool:
        """True when it has written every batch sent."""
        ...

    def close(self) -> int:
        """Wait for the batches sent, then stop."""
        ...

    def abort(self) -> None:
        """Stop at once (every batch written is a complete transaction)."""
        ...

"""Ledger keys: issuing them, and recognising them on every gateway request.

A key is ``llk_`` + 43 URL-safe random characters (256 bits). Only its SHA-256 is stored: the
keys are random, so a fast hash is as safe as a slow one and costs ~1 µs per request. The gateway
keeps the active keys in memory (``KeyRing``) and reloads them every ``key_refresh_seconds`` and
whenever an unknown key shows up, so a key created with ``llmledger keys create`` works at once
and a revoked one stops within seconds. Reloads run one at a time in a worker thread, at most
every 50 ms, so a flood of wrong keys costs little.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from llmledger.bookkeeping import KeyRecord, Keys

__all__ = ["KEY_PREFIX", "Identity", "KeyRing", "hash_key", "issue_key"]

KEY_PREFIX = "llk_"
_SHOWN_CHARS = 8  # of the random part, kept in clear as the key's recognisable prefix


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is attributed to."""

    key_id: str
    user_id: str
    org_id: str | None
    project: str | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def issue_key(
    keys: Keys,
    *,
    user_id: str,
    org_id: str | None = None,
    project: str | None = None,
    name: str | None = None,
) -> tuple[str, KeyRecord]:
    """Create and store a new key; returns the key (shown once, never stored) and its record."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = KeyRecord(
        id="key_" + secrets.token_hex(6),
        key_hash=hash_key(key),
        prefix=key[: len(KEY_PREFIX) + _SHOWN_CHARS],
        user_id=user_id,
        org_id=org_id,
        project=project,
        name=name,
    )
    return key, keys.add(record)


class KeyRing:
    """The active keys by hash, reloaded from the store by the gateway."""

    def __init__(
        self,
        load: Callable[[], Iterable[KeyRecord]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self.clock = clock
        self._by_hash: dict[str, Identity] = {}
        self.loaded_from = -1e18  # clock() when the loaded snapshot was read
        self.finished_at = -1e18  # clock() when the last reload finished

    def reload(self) -> int:
        """Read the active keys again (blocking: call from a worker thread); returns how many."""
        started = self.clock()
        keys = {
            record.key_hash: Identity(record.id, record.user_id, record.org_id, record.project)
            for record in self._load()
            if record.active
        }
        self._by_hash = keys  # one reference swap: readers never see a half-built dict
        self.loaded_from = started
        self.finished_at = self.clock()
        return len(keys)

    def __len__(self) -> int:
        return len(self._by_hash)

    def lookup(self, key: str) -> Identity | None:
        return self._by_hash.get(hash_key(key))

"""``llmledger push``: this machine's SQLite ledger into a shared one (store/push.py says how
"new" is decided). Events recorded before events carried a host get this machine's."""

from __future__ import annotations

from collections.abc import Callable

from llmledger.ledger import Ledger
from llmledger.store import open_store
from llmledger.store.push import PushResult, push_events

__all__ = ["PushResult", "push"]


def push(
    ledger: Ledger, target_url: str, *, progress: Callable[[int], None] | None = None
) -> PushResult:
    """Send ``ledger``'s events stored since its last push to ``target_url`` (created and
    migrated if needed)."""
    target = open_store(target_url)
    try:
        return push_events(ledger.store, target, prepare=ledger.stamp_host, progress=progress)
    finally:
        target.close()

"""An exclusive lock between processes, held on a lock file of its own (``fcntl.flock`` on
POSIX, ``msvcrt.locking`` on Windows): the delivery log's appends and its compaction take it,
so a compaction that replaces ``sent.jsonl`` never loses a line another process is appending.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["exclusive"]

# flock locks belong to the open file, so two threads of one process would not exclude each
# other through two opens: a lock per path inside the process as well.
_local_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _local(path: Path) -> threading.Lock:
    with _guard:
        return _local_locks.setdefault(str(path), threading.Lock())


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the lock on ``path`` (created when missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _local(path):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(descriptor)
            try:
                yield
            finally:
                _unlock(descriptor)
        finally:
            os.close(descriptor)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(descriptor: int) -> None:
        os.lseek(descriptor, 0, os.SEEK_SET)
        while True:
            try:
                msvcrt.locking(descriptor, msvcrt.LK_LOCK, 1)
                return
            except OSError:  # LK_LOCK gives up after 10 s: keep waiting
                continue

    def _unlock(descriptor: int) -> None:
        os.lseek(descriptor, 0, os.SEEK_SET)
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_EX)

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)

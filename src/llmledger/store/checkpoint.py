"""WAL checkpoints off the write path: a thread with its own connection copies committed pages
into the database file while the writer goes on.

With SQLite's automatic checkpoint, the commit that takes the WAL past its threshold also
copies every page back into the database and syncs it: for a bulk write of 50,000 events that
was two thirds of the commit's time (~30 of ~45 ms here). Commits are durable once in the WAL
(``synchronous=NORMAL``), so the copy need not hold the writer up: the store asks for a PASSIVE
checkpoint after large writes and this thread runs it (the GIL is released while SQLite works),
in parallel with whatever the writer does next. A PASSIVE checkpoint never blocks the writer or
readers; one that cannot finish is simply retried at the next request. The writer keeps an
automatic checkpoint with a high threshold as a bound on the WAL's size if this thread falls
behind.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on request, on its own thread and connection.

    Started on the first request; ``close()`` stops it and closes its connection.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._cond = threading.Condition()
        self._requested = False
        self._running = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # completed checkpoints (for tests and diagnostics)

    def request(self) -> None:
        """Ask for a checkpoint soon; returns at once."""
        with self._cond:
            if self._closed:
                return
            self._requested = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="llmledger-checkpoint", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no checkpoint is requested or running; False if ``timeout`` passed."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._requested or self._running), timeout=timeout
            )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        try:  # mode=rw: never create a database that is not there
            conn = sqlite3.connect(
                self._path.absolute().as_uri() + "?mode=rw", uri=True, isolation_level=None
            )
        except sqlite3.Error:
            with self._cond:  # no checkpoints then; the writer's own automatic ones remain
                self._closed = True
                self._requested = False
                self._cond.notify_all()
            return
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._requested or self._closed)
                    if self._closed:
                        self._requested = False
                        return
                    self._requested = False
                    self._running = True
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:
                    pass  # e.g. the file went away; the next request (or the writer) retries
                finally:
                    with self._cond:
                        self._running = False
                        self._cond.notify_all()
        finally:
            conn.close()
            with self._cond:
                self._running = False
                self._cond.notify_all()

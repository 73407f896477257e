"""A big scan's ledger writes, in a process of their own (``SQLiteStore.scan_process``).

On a cold scan the ledger's ingest (SQLite inserts, the rollup) is the largest single piece of
work, and it is Python work: in the scanning process it competes for the GIL with collecting
the workers' results. A forked child that owns its own connection to the same SQLite file takes
it off the scanning process: the scan forwards each batch (the priced rows the workers built
and packed with ``rowpack.pack_rows``, and the cursors of the files they came from) and the
child de-duplicates them (across files and across batches, as the in-process writer does) and
writes the batch with its cursors in ONE transaction. One batch is written at a time, in order,
while the next is being prepared; the scan has at most IN_FLIGHT batches unanswered, and a
failed write comes back to it as a ``StoreError``.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmledger.bookkeeping import ScanCursor
from llmledger.errors import StoreError
from llmledger.orphans import exit_with_parent
from llmledger.store.rowpack import batch_rows, pack_rows
from llmledger.store.rows import Rows

if TYPE_CHECKING:
    from llmledger.store.sqlite import SQLiteStore

# Rows packed by rowpack.pack_rows (one blob per file), and the files' cursors.
Batch = tuple[list[bytes], list[ScanCursor]]


def usable(path: Path | None) -> bool:
    """A child can write this ledger: a file, and a fork that copies no other thread of ours
    (the scan's worker pool is not started yet)."""
    return (
        path is not None
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


# The scan process's SQLite page cache, in KiB.
SCAN_CACHE_KIB = 16 * 1024

# Batches the scan may have sent and not yet had answered: the child prepares the next one
# (decode and de-duplicate rows) while it writes the one before.
IN_FLIGHT = 2

# rows, ids they must replace whatever their tokens, cursors, error
_Prepared = tuple[Rows, set[str], list[ScanCursor], str | None]
_NO_ROWS = Rows({}, 0)


def _serve(conn: Connection, parent_end: Connection, path: Path) -> None:
    """The child: this thread receives and prepares batches, a second one writes them (SQLite
    releases the GIL while it works, so preparing the next batch overlaps writing this one).
    Answers go back in order, one per batch."""
    parent_end.close()  # the fork copied it: closed here, the parent's exit reads as EOF
    exit_with_parent()
    gc.disable()  # events are acyclic; save_scan pauses the collector anyway
    # The writing thread takes the GIL back soon after each SQLite call, not after 5 ms.
    sys.setswitchinterval(0.0005)
    from llmledger.store.sqlite import SQLiteStore

    store = SQLiteStore(path)
    # A page cache that holds what the inserts revisit (the id index, the rollup), not the
    # whole ledger: the store's default (64 MB) is for reports.
    store._conn.execute(f"PRAGMA cache_size=-{SCAN_CACHE_KIB}")
    ready: queue.Queue[_Prepared | None] = queue.Queue(maxsize=1)
    saver = threading.Thread(target=_save_all, args=(store, ready, conn), daemon=True)
    saver.start()
    written: dict[str, int] = {}  # rank of every id written so far
    try:
        while True:
            try:
                message: Batch | None = conn.recv()
            except EOFError:  # the scan is gone
                return
            if message is None:
                return
            packed, cursors = message
            try:
                replaced: set[str] = set()
                rows = batch_rows(packed, written, replaced)
                ready.put((rows, replaced, cursors, None))
            except Exception as exc:  # the scan raises it; this process keeps serving
                ready.put((_NO_ROWS, set(), [], str(exc) or type(exc).__name__))
    finally:
        ready.put(None)
        saver.join()
        store.close()
        conn.close()


def _save_all(store: SQLiteStore, ready: queue.Queue[_Prepared | None], conn: Connection) -> None:
    while (item := ready.get()) is not None:
        rows, replaced, cursors, error = item
        if error is None:
            try:
                answer: tuple[str, Any] = ("ok", store.write_scan_rows(rows, cursors, replaced))
            except Exception as exc:
                answer = ("error", str(exc) or type(exc).__name__)
        else:
            answer = ("error", error)
        try:
            conn.send(answer)
        except OSError:  # the scan is gone
            return


class ScanProcess:
    """Sends batches to the child, up to IN_FLIGHT unanswered; ``submit``, ``wait`` and
    ``close`` return the rows written by the batches answered since the last call."""

    # Runs in the scan's workers: a file's priced events as rows for this process.
    pack = staticmethod(pack_rows)

    def __init__(self, path: Path) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, self._conn, path),
            name="llmledger-scan-process",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._pending = 0  # batches sent and not answered yet
        self._done = 0  # rows written by batches answered and not yet reported

    def submit(self, packed: list[bytes], cursors: list[ScanCursor]) -> int:
        """Send one batch (rows packed by ``rowpack.pack_rows``, per file); waits first while
        IN_FLIGHT batches are unanswered."""
        while self._pending >= IN_FLIGHT:
            self._answer()
        self._send((packed, cursors))
        self._pending += 1
        return self._reported()

    def busy(self) -> bool:
        """True while the child has as many batches as it takes (reads answers that came)."""
        while self._pending and self._conn.poll():
            self._answer()
        return self._pending >= IN_FLIGHT

    def starved(self) -> bool:
        """True when the child has written every batch sent (reads answers that came)."""
        self.busy()
        return self._pending == 0

    def wait(self) -> int:
        """Wait until every batch sent is written."""
        while self._pending:
            self._answer()
        return self._reported()

    def _reported(self) -> int:
        done, self._done = self._done, 0
        return done

    def _answer(self) -> None:
        self._pending -= 1
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise StoreError(f"the ledger writer process stopped: {exc or 'no answer'}") from exc
        if status != "ok":
            raise StoreError(f"cannot write to the ledger: {value}")
        self._done += int(value)

    def _send(self, message: Batch | None) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, OSError) as exc:
            raise StoreError(f"the ledger writer process stopped: {exc}") from exc

    def close(self) -> int:
        """Wait for the batches sent, stop the child; returns the rows they wrote."""
        try:
            written = self.wait()
            self._send(None)
        finally:  # on an error the child sees the pipe close and stops
            self._conn.close()
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        return written

    def abort(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()

"""The ledger writer of a big scan, in its own process.

On a cold scan the ledger's ingest (building rows, SQLite inserts, the rollup) is the largest
single piece of work, and it is Python work: in the scanning process it competes for the GIL
with collecting the workers' results. A forked child that owns its own connection to the same
SQLite file takes it off the scanning process: the scan forwards each batch (the workers'
records as MessagePack, as they came, and the cursors of the files they came from) and the child
de-duplicates them (across files and across batches, as the in-process writer does), turns them
into events, prices them with the parent's price book (inherited by the fork) and writes the
batch with its cursors in ONE transaction. One batch is written at a time; the
scan waits for a batch's answer before it sends the next, so at most two are in memory, and a
failed write comes back to the scan as a ``StoreError``.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from llmledger.errors import StoreError
from llmledger.events import UsageEvent
from llmledger.sources.base import Record, keep_best, to_event
from llmledger.store.sqlite import ScanCursor, SQLiteStore

_encode = msgspec.msgpack.Encoder().encode
_decode_records = msgspec.msgpack.Decoder(list[Record]).decode

Batch = tuple[list[tuple[str, bytes]], list[ScanCursor]]


def pack(records: list[Record]) -> bytes:
    return _encode(records)


def batch_events(packed: list[tuple[str, bytes]], written: dict[str, int]) -> list[UsageEvent]:
    """One batch's events: of the copies of an id, the best (highest rank, on a tie the later
    one), and none that loses to a copy an earlier batch wrote (``written``: id -> rank,
    updated here)."""
    buckets: dict[str, dict[str, Record]] = {}
    for source, blob in packed:
        records = _decode_records(blob)
        if written:
            records = [r for r in records if r.rank >= written.get(r.id, -1)]
        keep_best(records, buckets.setdefault(source, {}))
    events = []
    for source, bucket in buckets.items():
        for record in bucket.values():
            written[record.id] = record.rank
            events.append(to_event(record, source))
    return events


def usable(ledger: Any) -> bool:
    """A child can write for this ledger: an SQLite file, and a fork that copies no other
    thread of ours (the pool is not started yet)."""
    store = ledger.store
    return (
        isinstance(store, SQLiteStore)
        and store.path is not None
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


def _serve(conn: Connection, parent_end: Connection, path: Path, prices: Any) -> None:
    parent_end.close()  # the fork copied it: closed here, the parent's exit reads as EOF
    gc.disable()  # events are acyclic; save_scan pauses the collector anyway
    store = SQLiteStore(path)
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
                events = batch_events(packed, written)
                if events:
                    prices.price_events(events)
                conn.send(("ok", store.save_scan(events, cursors)))
            except Exception as exc:  # the scan raises it; this process keeps serving
                conn.send(("error", str(exc) or type(exc).__name__))
    finally:
        store.close()
        conn.close()


class ProcessSink:
    """Sends batches to the writer child; ``wait`` returns what the last batch wrote."""

    def __init__(self, ledger: Any) -> None:
        prices = ledger.prices  # loaded before the fork: the child inherits it
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, self._conn, ledger.store.path, prices),
            name="llmledger-scan-writer",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._pending = False

    def submit(self, packed: list[tuple[str, bytes]], cursors: list[ScanCursor]) -> int:
        """Send one batch (records packed by ``pack``, per source); returns the rows the
        previous batch wrote (0 if none)."""
        written = self.wait()
        self._send((packed, cursors))
        self._pending = True
        return written

    def wait(self) -> int:
        if not self._pending:
            return 0
        self._pending = False
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise StoreError(f"the ledger writer process stopped: {exc or 'no answer'}") from exc
        if status != "ok":
            raise StoreError(f"cannot write to the ledger: {value}")
        return int(value)

    def _send(self, message: Batch | None) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, OSError) as exc:
            raise StoreError(f"the ledger writer process stopped: {exc}") from exc

    def close(self) -> int:
        """Wait for the last batch, stop the child; returns what the last batch wrote."""
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

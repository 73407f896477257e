"""At-least-once delivery: each (channel, alert id) is sent until the channel takes it, with
exponential backoff (or the wait the receiver asked for), at most ``attempts`` times; then the
alert goes to the dead-letter log. An id a channel already took (in this process, or in the
sent log of an earlier one) is not sent again.

Processes sharing the state dir coordinate through the sent log itself: before sending, a
process reads under the lock what the others appended since it last looked (all of it again
when a compaction replaced the file) and, unless the (channel, id) is sent or claimed there,
appends a claim naming until when it is sending; ``sentAt`` follows once the channel took it.

The sent log only has to remember ids an alert check can find again: they name their moment
(a quota alert its firing time, found again for an hour after a process starts; an anomaly
its day or hour), so entries older than ``keep`` (30 days) are dropped once the file passes
``compact_at`` bytes. Appends and the compaction hold a lock shared by every process using
the state dir, so a compaction never loses another process's line.

``AlertDispatcher.deliver`` runs in the caller's event loop (the CLI); ``start``/``submit``
run deliveries on a thread of their own, for callers on any thread (the quota service's
alert callbacks, the watch loop).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp

from llmledger.alerts.channels import Channel, DeliveryError
from llmledger.alerts.file_lock import exclusive
from llmledger.alerts.model import Alert, stamp, webhook_payload

__all__ = ["AlertDispatcher", "DeliveryLog", "DeliveryResult", "RetryPolicy"]

log = logging.getLogger("llmledger.alerts")

Sleep = Callable[[float], Awaitable[None]]

KEEP_SENT = timedelta(days=30)  # far beyond the day an alert id can be found again
COMPACT_AT_BYTES = 256 * 1024  # about 2,500 entries


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff: float = 1.0  # seconds before the 2nd attempt; doubles after each failure
    max_backoff: float = 60.0
    timeout: float = 10.0  # per request

    def longest(self) -> float:
        """Seconds a delivery can take at most: every attempt timing out after the longest
        wait."""
        return self.attempts * self.timeout + (self.attempts - 1) * self.max_backoff

    def delay(self, failures: int, asked: float | None) -> float:
        if asked is not None:
            return min(max(asked, 0.0), self.max_backoff)
        return min(self.backoff * 2.0 ** (failures - 1), self.max_backoff)


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    alert_id: str
    delivered: bool
    attempts: int
    error: str | None = None
    duplicate: bool = False  # already taken by this channel: not sent again

    def to_dict(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "alertId": self.alert_id,
            "delivered": self.delivered,
            "attempts": self.attempts,
            "error": self.error,
            "duplicate": self.duplicate,
        }


DEFAULT_LEASE = RetryPolicy().longest()  # seconds a claim holds off the other processes


class DeliveryLog:
    """What was sent (``sent.jsonl``) and what could not be (``dead-letter.jsonl``), in
    ``directory``; in memory only when it is None."""

    def __init__(
        self,
        directory: Path | None,
        *,
        keep: timedelta = KEEP_SENT,
        compact_at: int = COMPACT_AT_BYTES,
    ) -> None:
        self.directory = directory
        self.keep = keep
        self.compact_at = compact_at
        self._next_compaction = compact_at  # doubles when the entries kept are that many
        self._lock = threading.Lock()
        # (channel, id) -> taken until this POSIX time: inf once sent, or claimed by this
        # process; a claim of another process lapses at the time it names.
        self._taken: dict[tuple[str, str], float] = {}
        self._read_file: tuple[int, int] | None = None  # (device, inode) of sent.jsonl read
        self._read_to = 0  # bytes of it read: every line before is in _taken
        self._cut_tail = False  # it ends in a line cut by a crash
        if directory is not None:
            if self._size() > compact_at:
                self.compact()
            with self._lock, exclusive(directory / "sent.lock"):
                self._read_new_lines()

    def _read_new_lines(self) -> None:
        """Take in what was appended to sent.jsonl since the last read, or all of it when it
        was replaced (a compaction) since. Called holding both locks."""
        assert self.directory is not None
        try:
            with (self.directory / "sent.jsonl").open("rb") as file:
                status = os.fstat(file.fileno())
                identity = (status.st_dev, status.st_ino)
                if identity != self._read_file or status.st_size < self._read_to:
                    self._read_file, self._read_to = identity, 0
                file.seek(self._read_to)
                data = file.read()
        except FileNotFoundError:
            self._read_file, self._read_to, self._cut_tail = None, 0, False
            return
        whole = data[: data.rfind(b"\n") + 1]  # a line without its newline: cut by a crash
        self._read_to += len(whole)
        self._cut_tail = len(whole) < len(data)
        for raw in whole.splitlines():
            try:
                line = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a line cut by a crash
            if isinstance(line, dict):
                self._take(line)

    def _take(self, line: dict[str, object]) -> None:
        key = (str(line.get("channel")), str(line.get("alertId")))
        until = math.inf if "sentAt" in line else _posix(line.get("claimedUntil"))
        if until is not None:
            self._taken[key] = max(until, self._taken.get(key, -math.inf))

    @property
    def dead_letter_path(self) -> Path | None:
        return None if self.directory is None else self.directory / "dead-letter.jsonl"

    def claim(self, channel: str, alert_id: str, lease: float = DEFAULT_LEASE) -> bool:
        """True when this process is to send ``alert_id`` to ``channel``: neither sent nor
        being sent by a process of this state dir; it is claimed for ``lease`` seconds."""
        key = (channel, alert_id)
        now = datetime.now(timezone.utc)
        with self._lock:
            if self._taken.get(key, -math.inf) > now.timestamp():
                return False  # no need to look at the file: it only adds claims
            if self.directory is None:
                self._taken[key] = math.inf
                return True
        # A claim lapses rather than lasting until "sent": a process that dies between its
        # claim and its send leaves the alert to whoever finds it next (at least once).
        until = now + timedelta(seconds=lease)
        record: dict[str, object] = {
            "channel": channel,
            "alertId": alert_id,
            "claimedUntil": stamp(until),
        }
        with self._lock, exclusive(self.directory / "sent.lock"):
            self._read_new_lines()
            if self._taken.get(key, -math.inf) > now.timestamp():
                return False
            self._write_locked("sent.jsonl", record)
            self._taken[key] = math.inf  # this process does not send it twice
            return True

    def _append(self, name: str, record: dict[str, object]) -> None:
        if self.directory is None:
            return
        with self._lock, exclusive(self.directory / "sent.lock"):
            if name == "sent.jsonl":
                self._read_new_lines()  # so that _read_to stays at the end of the file
            self._write_locked(name, record)

    def _write_locked(self, name: str, record: dict[str, object]) -> None:
        assert self.directory is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        if name != "sent.jsonl":
            with (self.directory / name).open("a", encoding="utf-8") as file:
                file.write(line)
            return
        if self._cut_tail:  # end the cut line, or it would swallow this one
            line = "\n" + line
        with (self.directory / name).open("a", encoding="utf-8") as file:
            file.write(line)
        self._read_new_lines()  # our own line: moves _read_to past it
        if self._size() > self._next_compaction:
            self._compact_locked(datetime.now(timezone.utc))

    def sent(self, channel: str, alert: Alert) -> None:
        now = stamp(datetime.now(timezone.utc))
        self._append("sent.jsonl", {"channel": channel, "alertId": alert.id, "sentAt": now})

    def _size(self) -> int:
        try:
            return (self.directory / "sent.jsonl").stat().st_size if self.directory else 0
        except FileNotFoundError:
            return 0

    def compact(self, now: datetime | None = None) -> int:
        """Drop the sent entries older than ``keep`` (and lines cut by a crash); the number
        dropped. Safe while other processes append (they wait for the lock)."""
        if self.directory is None:
            return 0
        with self._lock, exclusive(self.directory / "sent.lock"):
            return self._compact_locked(now or datetime.now(timezone.utc))

    def _compact_locked(self, now: datetime) -> int:
        assert self.directory is not None
        path = self.directory / "sent.jsonl"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return 0
        cutoff = now - self.keep
        kept = [line for line in lines if _still_needed(line, cutoff)]
        temporary = path.with_name(f".sent.jsonl.{os.getpid()}.tmp")
        with temporary.open("w", encoding="utf-8") as file:
            file.write("".join(line + "\n" for line in kept))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # readers see the old file or the new one, never half
        self._read_new_lines()  # a new file: read again whole
        self._next_compaction = max(self.compact_at, 2 * self._size())
        dropped = len(lines) - len(kept)
        if dropped:
            log.info("alerts: %d sent entries older than %s dropped", dropped, stamp(cutoff))
        return dropped

    def dead(self, channel: str, alert: Alert, attempts: int, error: str) -> None:
        log.error(
            "alert %s not delivered to %s after %d attempt(s): %s",
            alert.id,
            channel,
            attempts,
            error,
        )
        self._append(
            "dead-letter.jsonl",
            {
                "channel": channel,
                "alertId": alert.id,
                "failedAt": stamp(datetime.now(timezone.utc)),
                "attempts": attempts,
                "error": error,
                "alert": webhook_payload(alert),
            },
        )


def _posix(value: object) -> float | None:
    """The POSIX time of an ISO 8601 stamp (UTC when it names no zone); None if it is none."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _still_needed(raw: str, cutoff: datetime) -> bool:
    """A sent entry or claim younger than ``cutoff`` (or of a time that does not parse:
    kept)."""
    try:
        line = json.loads(raw)
    except json.JSONDecodeError:
        return False  # a line cut by a crash
    if not isinstance(line, dict):
        return False
    moment = _posix(line.get("sentAt", line.get("claimedUntil")))
    return moment is None or moment >= cutoff.timestamp()


async def deliver_one(
    session: aiohttp.ClientSession,
    channel: Channel,
    alert: Alert,
    policy: RetryPolicy,
    record: DeliveryLog,
    sleep: Sleep = asyncio.sleep,
) -> DeliveryResult:
    """Send until taken or out of attempts (then the dead-letter log)."""
    error = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            await channel.send(session, alert)
        except DeliveryError as exc:
            error = str(exc) or type(exc).__name__
            if exc.permanent or attempt == policy.attempts:
                record.dead(channel.name, alert, attempt, error)
                return DeliveryResult(channel.name, alert.id, False, attempt, error)
            delay = policy.delay(attempt, exc.retry_after)
            log.warning(
                "alert %s to %s: attempt %d failed (%s); next in %.1f s",
                alert.id,
                channel.name,
                attempt,
                error,
                delay,
            )
            await sleep(delay)
        else:
            record.sent(channel.name, alert)
            return DeliveryResult(channel.name, alert.id, True, attempt)
    raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover


class AlertDispatcher:
    """Delivers alerts to every channel (see the module docstring)."""

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        policy: RetryPolicy | None = None,
        record: DeliveryLog | None = None,
    ) -> None:
        self.channels = tuple(channels)
        self.policy = policy or RetryPolicy()
        self.record = record or DeliveryLog(None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[Future[list[DeliveryResult]]] = set()
        self._pending_lock = threading.Lock()
        self.results: list[DeliveryResult] = []

    # -- in the caller's loop --------------------------------------------------------------------

    async def deliver(
        self, alerts: Iterable[Alert], session: aiohttp.ClientSession | None = None
    ) -> list[DeliveryResult]:
        """Every alert to every channel, channels in parallel; the results in order."""
        if session is None:
            timeout = aiohttp.ClientTimeout(total=self.policy.timeout)
            async with aiohttp.ClientSession(timeout=timeout) as own:
                return await self.deliver(alerts, own)
        jobs = []
        skipped = []
        for alert in alerts:
            for channel in self.channels:
                if self.record.claim(channel.name, alert.id, self.policy.longest()):
                    jobs.append(deliver_one(session, channel, alert, self.policy, self.record))
                else:
                    skipped.append(DeliveryResult(channel.name, alert.id, False, 0, None, True))
        results = [*await asyncio.gather(*jobs), *skipped]
        self.results.extend(results)
        return results

    # -- from any thread -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery thread (idempotent)."""
        if self._thread is not None:
            return
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            timeout = aiohttp.ClientTimeout(total=self.policy.timeout)
            self._session = loop.run_until_complete(_session(timeout))
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._session.close())
            loop.close()

        self._thread = threading.Thread(target=run, name="llmledger-alerts", daemon=True)
        self._thread.start()
        ready.wait()

    def submit(self, alert: Alert) -> Future[list[DeliveryResult]]:
        """Queue ``alert`` for every channel; the Future gets the results."""
        self.start()
        assert self._loop is not None and self._session is not None
        future = asyncio.run_coroutine_threadsafe(self.deliver([alert], self._session), self._loop)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[list[DeliveryResult]]) -> None:
        with self._pending_lock:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("alert delivery failed: %r", future.exception())

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for every submitted alert; False if ``timeout`` passed first."""
        with self._pending_lock:
            pending = list(self._pending)
        for future in pending:
            try:
                future.result(timeout)
            except FutureTimeout:
                return False
            except Exception:  # logged by _done
                continue
        return True

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish what was submitted (up to ``timeout``), then stop the thread."""
        if self._thread is None or self._loop is None:
            return
        self.flush(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None


async def _session(timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=timeout)

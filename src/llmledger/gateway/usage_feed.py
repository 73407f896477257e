"""An in-process pub/sub of usage changes, for the usage API's live stream.

The recorder publishes each committed event's subjects (``user:u1``, ``org:acme``,
``key:key_1``); the quota service's alerts, add-ons and plan changes publish theirs. A
subscriber (one SSE stream) gets a ``FeedMessage`` for each change to one of its subjects.
``publish`` may be called from any thread; it costs a dict lookup while nobody listens.

Usage recorded by another process on the same ledger (a second ``llmledger serve``, the CLI)
is not published here; ``CounterWatch`` finds it: while anyone listens, it reads the month
counters of the subjects listened to every ``interval`` seconds and publishes those that
changed without this process publishing them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CounterWatch", "FeedMessage", "Subscription", "UsageFeed"]

log = logging.getLogger("llmledger.gateway")

_QUEUE_SIZE = 256


@dataclass(frozen=True)
class FeedMessage:
    kind: Literal["usage", "alert"]
    subjects: tuple[str, ...]
    alert: Mapping[str, object] = field(default_factory=dict)  # AlertEvent.to_dict()
    elsewhere: bool = False  # found by CounterWatch: recorded by another process


class Subscription:
    """What one stream listens to; ``get`` waits for the next message (None: timeout)."""

    def __init__(self, feed: UsageFeed, subjects: tuple[str, ...]) -> None:
        self.feed = feed
        self.subjects = subjects
        self.queue: asyncio.Queue[FeedMessage] = asyncio.Queue(_QUEUE_SIZE)

    async def get(self, timeout: float) -> FeedMessage | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    def offer(self, message: FeedMessage) -> None:
        if self.queue.full():  # a slow reader: the latest state is what matters
            self.queue.get_nowait()
        self.queue.put_nowait(message)

    def close(self) -> None:
        self.feed.unsubscribe(self)


class UsageFeed:
    def __init__(self) -> None:
        self._by_subject: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._published: set[str] = set()  # usage subjects published since the last take

    def subjects(self) -> list[str]:
        """The subjects someone listens to."""
        with self._lock:
            return list(self._by_subject)

    def take_published(self) -> set[str]:
        """The subjects of usage messages published since the last call."""
        with self._lock:
            taken, self._published = self._published, set()
        return taken

    def subscribe(self, subjects: Iterable[str]) -> Subscription:
        """A subscription to ``subjects`` (call on the event loop)."""
        self._loop = asyncio.get_running_loop()
        subscription = Subscription(self, tuple(subjects))
        with self._lock:
            for subject in subscription.subjects:
                self._by_subject.setdefault(subject, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            for subject in subscription.subjects:
                listeners = self._by_subject.get(subject)
                if listeners is not None:
                    listeners.discard(subscription)
                    if not listeners:
                        del self._by_subject[subject]

    @property
    def listening(self) -> bool:
        return bool(self._by_subject)

    def publish(self, message: FeedMessage) -> None:
        """Deliver ``message`` to the subscriptions of its subjects (from any thread)."""
        if not self._by_subject or self._loop is None:
            return
        with self._lock:
            if message.kind == "usage" and not message.elsewhere:
                self._published.update(message.subjects)
            targets = {s for subject in message.subjects for s in self._by_subject.get(subject, ())}
        if not targets:
            return
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for target in targets:
            if running is loop:
                target.offer(message)
            else:
                loop.call_soon_threadsafe(target.offer, message)


class CounterWatch:
    """Publishes usage that other processes recorded (see the module docstring).

    ``read`` returns a value per subject that changes whenever its usage does (its counters
    this month); it runs in a worker thread."""

    def __init__(
        self,
        feed: UsageFeed,
        read: Callable[[Sequence[str]], Mapping[str, Hashable]],
        interval: float = 0.5,
    ) -> None:
        self.feed = feed
        self.read = read
        self.interval = interval
        self._seen: dict[str, Hashable] = {}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            subjects = self.feed.subjects()
            if not subjects:
                self._seen.clear()
                continue
            published = self.feed.take_published()
            try:
                now = await loop.run_in_executor(None, self.read, subjects)
            except Exception:  # a locked or busy ledger: look again next time
                log.exception("gateway: cannot read the usage counters for the live stream")
                continue
            changed = [
                subject
                for subject in subjects
                if subject in self._seen
                and subject not in published
                and now.get(subject) != self._seen[subject]
            ]
            self._seen = {subject: now.get(subject) for subject in subjects}
            if changed:
                self.feed.publish(FeedMessage("usage", tuple(changed), elsewhere=True))

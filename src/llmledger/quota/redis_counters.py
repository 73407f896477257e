"""Quota counters in Redis, shared by gateways on several hosts (``[quotas] redis``).

The ledger stays the truth; Redis holds what every gateway must see at once: the used units of
each limit's window and the open reservations. Each step is one Lua script (quota/
redis_scripts.py), atomic across all the limits of a request:

- ``reserve``: every hard limit of the request (plan meters, hard budgets; computed by
  quota/limits.py from the ledger's plans, add-ons and budgets) must have room, counting what is
  used and what open reservations hold; then the bound is held on each subject until it is
  settled, released, or expires (``reservation_seconds``). N parallel requests overrun a limit
  by at most one request's bound. A counter missing in Redis (first use, a new window, a lost
  Redis) is seeded with the ledger's count read just before.
- ``settling`` marks a reservation whose event is being written to the ledger; ``finish`` then
  adds the real usage to its counters and drops its holds. Both are idempotent per request id.
- ``reconcile`` (periodically, and at start) sets each counter to the ledger's count, unless it
  moved meanwhile or a request on its subject is between its ledger write and its counters.

Counter keys carry the window (``month:2026-01``) and expire after it: rollover needs nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from llmledger.errors import LedgerError
from llmledger.events import UsageEvent
from llmledger.quota import redis_scripts
from llmledger.quota.admission import Admission, Estimate, Reservation, refusal
from llmledger.quota.limits import Limit, Subject, Usage, limits_for
from llmledger.quota.periods import Window, window_at
from llmledger.quota.plans import Quotas, check_redis_url
from llmledger.quota.records import CounterRange, Counts, Hold, QuotaReader

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

    from llmledger.ledger import Ledger

__all__ = [
    "REDIS_ENV",
    "CountersUnavailable",
    "Plan",
    "RedisCounters",
    "connect",
    "event_counts",
    "ledger_counts",
    "read_plan",
    "redacted",
    "redis_url",
]

REDIS_ENV = "LLMLEDGER_QUOTA_REDIS"

MISSING_PACKAGE = (
    "[quotas] redis needs the redis package: pip install 'llmledger[redis]' "
    "(or pip install 'redis>=5.0.1')"
)
_MODES = {"total": "t", "input+output": "i", "cost": "c"}
_DONE_MS = 86_400_000  # how long a settled request id is remembered
_GRACE = timedelta(days=1)  # a counter outlives its window by this (late settles)
_TOTAL_TTL = timedelta(days=35)  # an all-time counter unused this long is seeded again
_CHUNK = 500  # counters per reconciliation script


class CountersUnavailable(LedgerError):
    """Redis did not answer (down, unreachable, timed out, or refused the script)."""


def redacted(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


def redis_url(quotas: Quotas, env: Mapping[str, str]) -> str | None:
    """Where the counters live: ``LLMLEDGER_QUOTA_REDIS``, else ``[quotas] redis``; None for
    the ledger's own counters."""
    found = env.get(REDIS_ENV, "").strip()
    return check_redis_url(found, REDIS_ENV) if found else quotas.settings.redis


def connect(url: str, timeout: float = 2.0) -> Redis:
    """An asyncio client of the Redis at ``url``, checked with a PING from this thread;
    ``LedgerError`` (one line) when the package is missing or Redis cannot be reached."""
    try:
        import redis.asyncio  # binds ``redis`` too
    except ImportError:
        raise LedgerError(MISSING_PACKAGE) from None
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=timeout) as probe:
            probe.ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise LedgerError(
            f"cannot reach Redis at {redacted(url)} ([quotas] redis): {exc}"
        ) from None
    client: Redis = redis.asyncio.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, decode_responses=True
    )
    return client


def event_counts(event: UsageEvent) -> Counts:
    """What an event adds to its subjects' counters (as the ledger's counters count it)."""
    io = event.input_tokens + event.output_tokens
    cache = event.cache_read_tokens + event.cache_creation_tokens
    return Counts(io, cache, event.cost_nanos or 0, 1)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Plan:
    """One request's limits with the ledger's counts of their windows (read together)."""

    limits: tuple[Limit, ...]
    counts: tuple[Counts, ...]


def read_plan(ledger: Ledger, quotas: Quotas, who: Subject, now: datetime) -> Plan:
    """``who``'s limits at ``now`` and the ledger's counts of their windows (one read)."""

    def read(reader: QuotaReader) -> Plan:
        limits = limits_for(reader, quotas, who, now)
        return Plan(tuple(limits), tuple(reader.counts([limit.counter for limit in limits])))

    return ledger.store.read_quotas(read)


def ledger_counts(ledger: Ledger, ranges: list[CounterRange]) -> list[Counts]:
    """The ledger's counts of ``ranges`` (one read)."""
    return ledger.store.read_quotas(lambda reader: reader.counts(ranges))


class RedisCounters:
    """The Lua scripts over one Redis and key prefix (see the module docstring)."""

    def __init__(self, client: Redis, prefix: str, quotas: Quotas, url: str = "") -> None:
        from redis import exceptions

        self.client = client
        self.where = redacted(url) if url else "Redis"
        self._errors: tuple[type[BaseException], ...] = (exceptions.RedisError, OSError)
        self._away: tuple[type[BaseException], ...] = (
            exceptions.ConnectionError,
            exceptions.TimeoutError,
            OSError,
        )
        self.prefix = prefix
        self.quotas = quotas
        self.generation: str | None = None  # the last one seen (a change: Redis was lost)
        self._reserve = client.register_script(redis_scripts.RESERVE)
        self._settling = client.register_script(redis_scripts.SETTLING)
        self._finish = client.register_script(redis_scripts.FINISH)
        self._release = client.register_script(redis_scripts.RELEASE)
        self._reconcile = client.register_script(redis_scripts.RECONCILE)

    async def _run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except self._errors as exc:
            why = "cannot reach" if isinstance(exc, self._away) else "an error from"
            raise CountersUnavailable(
                f"quota counters unavailable: {why} {self.where} ({exc})"
            ) from None

    # -- keys ----------------------------------------------------------------------------------

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def counter_key(self, subject: str, window: Window) -> str:
        return self.key("c", window.kind, window.key, subject)

    def _fixed(self) -> list[str]:
        return [self.key("gen"), self.key("seq"), self.key("keys")]

    def _expire_at(self, window: Window, now: datetime) -> int:
        if window.kind == "total":
            return _ms(now + _TOTAL_TTL)
        return _ms(window.end + _GRACE)

    # -- the request's cycle -------------------------------------------------------------------

    async def reserve(
        self,
        request_id: str,
        who: Subject,
        plan: Plan,
        bound: Estimate,
        now: datetime,
        expires: datetime,
    ) -> Admission:
        """Hold ``bound`` on the request's subjects, or refuse it (see the module docstring)."""
        counters: dict[str, int] = {}
        counter_args: list[Any] = []
        holds: dict[str, int] = {}
        limit_args: list[Any] = []
        for limit, counts in zip(plan.limits, plan.counts):
            key = self.counter_key(limit.subject, limit.window)
            if key not in counters:
                counters[key] = len(counters) + 1
                counter = limit.counter
                counter_args += [
                    counts.io_tokens,
                    counts.cache_tokens,
                    counts.cost_nanos,
                    limit.subject,
                    counter.first,
                    counter.last,
                    self._expire_at(limit.window, now),
                ]
            hold = self.key("h", limit.subject)
            holds.setdefault(hold, len(holds) + 1)
            limit_args += [
                counters[key],
                holds[hold],
                _MODES[limit.mode],
                repr(limit.multiplier),
                limit.limit,
                1 if limit.hard else 0,
            ]
        hold_ms = (expires - now) // timedelta(milliseconds=1) + 60_000
        args = [
            secrets.token_hex(8),
            _ms(now),
            _ms(expires),
            bound.tokens,
            bound.cost_nanos,
            len(counters),
            len(holds),
            len(plan.limits),
            hold_ms,
            self.key("r", ""),
            request_id,
            *counter_args,
            *limit_args,
        ]
        keys = [*self._fixed(), self.key("r", request_id), self.key("d", request_id)]
        sums = [self.key("hs", subject) for subject in self._subjects(holds)]
        found = await self._run(self._reserve, [*keys, *counters, *holds, *sums], args)
        status, self.generation = str(found[0]), str(found[1])
        if status == "refused":
            limit = plan.limits[int(found[2]) - 1]
            return Admission(None, refusal(Usage(limit, int(found[3]), int(found[4]))))
        subjects = dict.fromkeys(limit.subject for limit in plan.limits)
        held = tuple(Hold(request_id, s, bound.tokens, bound.cost_nanos, expires) for s in subjects)
        return Admission(Reservation(request_id, who, held, expires, plan.limits))

    async def settling(self, request_id: str, now: datetime) -> None:
        """Mark the request as being written to the ledger (before the write)."""
        await self._run(self._settling, [self.key("gen"), self.key("r", request_id)], [_ms(now)])

    async def finish(self, reservation: Reservation, event: UsageEvent) -> bool:
        """Add the event's usage to the reservation's counters (in the event's windows) and
        drop its holds; True when counters moved. Idempotent per request id."""
        rid = reservation.request_id
        at = event.ts if event.ts.tzinfo else event.ts.replace(tzinfo=timezone.utc)
        counters = dict.fromkeys(
            self.counter_key(limit.subject, window_at(limit.window.kind, at, self.quotas.zone))
            for limit in reservation.limits
        )
        holds, sums = self._hold_keys(reservation)
        counts = event_counts(event)
        keys = [self.key("gen"), self.key("seq"), self.key("r", rid), self.key("d", rid)]
        args: list[str | int] = [
            rid,
            counts.io_tokens,
            counts.cache_tokens,
            counts.cost_nanos,
            len(counters),
            len(holds),
            _DONE_MS,
        ]
        return bool(await self._run(self._finish, [*keys, *counters, *holds, *sums], args))

    async def release(self, reservation: Reservation) -> None:
        holds, sums = self._hold_keys(reservation)
        keys = [self.key("gen"), self.key("r", reservation.request_id), *holds, *sums]
        await self._run(self._release, keys, [len(holds)])

    def _hold_keys(self, reservation: Reservation) -> tuple[list[str], list[str]]:
        subjects = list(dict.fromkeys(hold.subject for hold in reservation.holds))
        return [self.key("h", s) for s in subjects], [self.key("hs", s) for s in subjects]

    def _subjects(self, hold_keys: dict[str, int]) -> list[str]:
        start = len(self.key("h", ""))
        return [key[start:] for key in hold_keys]

    # -- the ledger is the truth ---------------------------------------------------------------

    async def ensure_generation(self) -> tuple[str, bool]:
        """The generation, made when Redis has none; (generation, True when made now)."""
        made = bool(await self.client.set(self.key("gen"), secrets.token_hex(8), nx=True))
        generation = str(await self.client.get(self.key("gen")))
        self.generation = generation
        return generation, made

    async def reconcile(
        self,
        read_counts: Callable[[list[CounterRange]], Awaitable[Sequence[Counts]]],
        now: datetime,
    ) -> tuple[int, int, int]:
        """Set every counter to the ledger's count (``read_counts``: an awaitable of the
        ledger's counts of the ranges); (corrected, skipped, dropped)."""
        members = sorted(str(m) for m in await self.client.smembers(self.key("keys")))
        totals = [0, 0, 0]
        for start in range(0, len(members), _CHUNK):
            chunk = members[start : start + _CHUNK]
            found = await self._snapshot(chunk)
            ranges = [CounterRange(s, first, last) for _, _, s, first, last in found]
            counts = await read_counts(ranges)
            args: list[Any] = [_ms(now), self.key("r", ""), self.key("h", ""), len(chunk)]
            for (gen, seq, _, _, _), c in zip(found, counts):
                args += [gen, seq, c.io_tokens, c.cache_tokens, c.cost_nanos]
            done = await self._run(self._reconcile, [*self._fixed(), *chunk], args)
            for i in range(3):
                totals[i] += int(done[i])
        return totals[0], totals[1], totals[2]

    async def _snapshot(self, keys: list[str]) -> list[tuple[str, str, str, str, str]]:
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, ["g", "v", "s", "f", "l"])
            rows = await pipe.execute()
        return [tuple(str(v or "") for v in row) for row in rows]  # type: ignore[misc]

"""The Redis quota counters on their own (real Redis, real SQLite ledger): idempotent reserve
and settle, holds that fill a limit and expire, all the limits of a request decided at once,
reconciliation with the ledger, a lost Redis seeded again, and the one-line errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest

from llmledger.errors import ConfigError, LedgerError
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.quota.admission import Estimate, Reservation
from llmledger.quota.limits import Subject
from llmledger.quota.plans import parse_quotas
from llmledger.quota.records import Budget, CounterRange, Counts
from llmledger.quota.redis_counters import (
    RedisCounters,
    connect,
    ledger_counts,
    read_plan,
    redacted,
    redis_url,
)
from tests.quota.conftest import open_ledger

T = TypeVar("T")
UTC = timezone.utc
WHO = Subject(user_id="u1", key_id="k1", model="gpt-4o-mini")
BOUND = Estimate(60, 0)
QUOTAS = {"quotas": {}, "plans": {"hobby": {"tokens": 100}}}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(tmp_path / "ledger.db", QUOTAS) as opened:
        yield opened


Work = Callable[[RedisCounters], Awaitable[T]]


def run(url: str, prefix: str, ledger: Ledger, work: Work[T]) -> T:
    """``work`` with counters on a client of its own event loop."""

    async def main() -> T:
        client = connect(url)
        try:
            return await work(RedisCounters(client, prefix, ledger.quotas.quotas, url))
        finally:
            await client.aclose()

    return asyncio.run(main())


def event(tokens: int = 25) -> UsageEvent:
    return UsageEvent(
        model="gpt-4o-mini",
        user_id="u1",
        api_key_id="k1",
        input_tokens=tokens - 5,
        output_tokens=5,
    )


async def reserve(
    counters: RedisCounters, ledger: Ledger, rid: str, now: datetime, who: Subject = WHO
) -> Reservation | None:
    plan = read_plan(ledger, ledger.quotas.quotas, who, now)
    found = await counters.reserve(rid, who, plan, BOUND, now, now + timedelta(seconds=600))
    return found.reservation


def redis_hash(url: str, key: str) -> dict[str, str]:
    import redis

    with redis.Redis.from_url(url, decode_responses=True) as client:
        return dict(client.hgetall(key))


def month_key(counters: RedisCounters, subject: str, now: datetime) -> str:
    month = now.strftime("%Y-%m")
    return counters.key("c", "month", month, subject)


def test_a_second_reserve_or_settle_of_a_request_changes_nothing(
    ledger: Ledger, redis_url: str, redis_prefix: str
) -> None:
    now = datetime.now(UTC)

    async def work(counters: RedisCounters) -> None:
        first = await reserve(counters, ledger, "r1", now)
        again = await reserve(counters, ledger, "r1", now)
        assert first is not None and again is not None
        held = await counters.client.zrange(counters.key("h", "user:u1"), 0, -1)
        assert held == ["r1|60|0"]  # held once: request id, tokens, nano-USD
        assert await counters.client.hget(counters.key("hs", "user:u1"), "t") == "60"
        used = event()
        await counters.settling("r1", now)
        ledger.quotas.settle(first, used)
        assert await counters.finish(first, used) is True
        assert await counters.finish(first, used) is False  # the second settle: nothing
        assert await counters.client.zcard(counters.key("h", "user:u1")) == 0
        assert await counters.client.hget(counters.key("hs", "user:u1"), "t") == "0"
        key = month_key(counters, "user:u1", now)
        assert await counters.client.hget(key, "io") == "25"
        assert await reserve(counters, ledger, "r1", now) is not None  # settled: holds nothing
        assert await counters.client.zcard(counters.key("h", "user:u1")) == 0

    run(redis_url, redis_prefix, ledger, work)


def test_holds_fill_a_limit_and_expire(ledger: Ledger, redis_url: str, redis_prefix: str) -> None:
    now = datetime.now(UTC)

    async def work(counters: RedisCounters) -> None:
        assert await reserve(counters, ledger, "r1", now) is not None  # 0 used + 0 held < 100
        assert await reserve(counters, ledger, "r2", now) is not None  # 0 + 60 < 100
        plan = read_plan(ledger, ledger.quotas.quotas, WHO, now)
        refused = await counters.reserve("r3", WHO, plan, BOUND, now, now + timedelta(hours=1))
        assert refused.refusal is not None
        body = refused.refusal.error()["error"]
        assert body["type"] == "budget_exceeded"
        assert (body["limit"], body["used"]) == (100, 0)
        assert "+120 held by requests in flight" in body["message"]
        # The two holds of crashed requests expire: the limit has room again.
        later = now + timedelta(seconds=601)
        assert await reserve(counters, ledger, "r4", later) is not None
        sums = await counters.client.hgetall(counters.key("hs", "user:u1"))
        assert (sums["t"], sums["c"]) == ("60", "0")  # r4's alone: the expired ones went

    run(redis_url, redis_prefix, ledger, work)


def test_a_refusal_by_one_limit_holds_nothing_on_the_others(
    ledger: Ledger, redis_url: str, redis_prefix: str
) -> None:
    ledger.quotas.add_budget(Budget("key-budget", "key", "k1", "day", tokens=10))
    now = datetime.now(UTC)

    async def work(counters: RedisCounters) -> None:
        assert await reserve(counters, ledger, "r1", now) is not None  # nothing used yet
        plan = read_plan(ledger, ledger.quotas.quotas, WHO, now)
        found = await counters.reserve("r2", WHO, plan, BOUND, now, now + timedelta(hours=1))
        assert found.refusal is not None
        assert (found.refusal.kind, found.refusal.name) == ("budget", "key-budget")
        assert found.refusal.window == "day"
        for subject in ("user:u1", "key:k1"):
            assert await counters.client.zrange(counters.key("h", subject), 0, -1) == ["r1|60|0"]

    run(redis_url, redis_prefix, ledger, work)


def test_reconcile_sets_counters_to_the_ledger_unless_a_settle_is_under_way(
    ledger: Ledger, redis_url: str, redis_prefix: str
) -> None:
    now = datetime.now(UTC)

    async def read(ranges: list[CounterRange]) -> list[Counts]:
        return ledger_counts(ledger, ranges)

    async def work(counters: RedisCounters) -> None:
        first = await reserve(counters, ledger, "r1", now)
        assert first is not None
        ledger.quotas.settle(first, event())
        await counters.finish(first, event())
        key = month_key(counters, "user:u1", now)
        await counters.client.hset(key, "io", "7")  # drift
        second = await reserve(counters, ledger, "r2", now)
        assert second is not None
        await counters.settling("r2", now)  # its event is being written: wait for it
        assert await counters.reconcile(read, now) == (0, 1, 0)  # the user's month: later
        assert await counters.client.hget(key, "io") == "7"
        ledger.quotas.settle(second, event(30))
        await counters.finish(second, event(30))
        corrected, skipped, _ = await counters.reconcile(read, now)
        assert (corrected, skipped) == (1, 0)
        assert await counters.client.hget(key, "io") == "55"  # 25 + 30, the ledger's

    run(redis_url, redis_prefix, ledger, work)


def test_a_lost_redis_is_seeded_again_from_the_ledger(
    ledger: Ledger, redis_url: str, redis_prefix: str
) -> None:
    now = datetime.now(UTC)
    ledger.quotas.settle(None, event(80))  # recorded while Redis knew nothing of it

    async def work(counters: RedisCounters) -> None:
        assert await reserve(counters, ledger, "r1", now) is not None  # 80 used < 100
        key = month_key(counters, "user:u1", now)
        assert await counters.client.hget(key, "io") == "80"
        old = await counters.client.get(counters.key("gen"))
        await counters.client.delete(counters.key("gen"))  # Redis lost part of its data
        await counters.client.hset(key, "io", "0")
        refused = await counters.reserve(
            "r2",
            WHO,
            read_plan(ledger, ledger.quotas.quotas, WHO, now),
            BOUND,
            now,
            now + timedelta(hours=1),
        )
        # A new generation: r1's hold and the stale counter no longer count; the ledger's 80
        # does, and 80 + 0 held < 100 admits.
        assert refused.reservation is not None
        assert await counters.client.get(counters.key("gen")) not in (None, old)
        assert await counters.client.hget(key, "io") == "80"

    run(redis_url, redis_prefix, ledger, work)


def test_a_settle_of_an_expired_reservation_leaves_the_count_to_the_ledger(
    ledger: Ledger, redis_url: str, redis_prefix: str
) -> None:
    now = datetime.now(UTC)

    async def read(ranges: list[CounterRange]) -> list[Counts]:
        return ledger_counts(ledger, ranges)

    async def work(counters: RedisCounters) -> None:
        first = await reserve(counters, ledger, "r1", now)
        assert first is not None
        await counters.client.delete(counters.key("r", "r1"))  # expired: a hung upstream
        ledger.quotas.settle(first, event())
        assert await counters.finish(first, event()) is False
        key = month_key(counters, "user:u1", now)
        assert await counters.client.hget(key, "io") == "0"
        assert await counters.reconcile(read, now) == (1, 0, 0)
        assert await counters.client.hget(key, "io") == "25"

    run(redis_url, redis_prefix, ledger, work)


def test_an_unreachable_redis_is_one_line_without_the_password() -> None:
    with pytest.raises(LedgerError) as caught:
        connect("redis://user:secret@127.0.0.1:1/0", timeout=1)
    message = str(caught.value)
    assert message.startswith("cannot reach Redis at redis://user:***@127.0.0.1:1/0")
    assert "secret" not in message and "\n" not in message
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(LedgerError, match=r"pip install 'llmledger\[redis\]'"):
        connect("redis://127.0.0.1:6379/0")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"redis": "http://127.0.0.1:6379"}, "quotas.redis: 'http://127.0.0.1:6379' is not"),
        ({"redis": 6379}, "quotas.redis: Expected `str | null`"),
        ({"redis_prefix": "a b"}, "quotas.redis_prefix"),
        ({"redis_reconcile_seconds": 0}, "quotas.redis_reconcile_seconds"),
    ],
)
def test_bad_redis_settings_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("|", r"\|").replace("(", r"\(")):
        parse_quotas({"quotas": table})


def test_a_plan_multiplier_weighs_used_and_held_units(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    raw = {"quotas": {}, "plans": {"hobby": {"tokens": 100, "multiplier": 2}}}
    with open_ledger(tmp_path / "weighted.db", raw) as ledger:
        now = datetime.now(UTC)

        async def work(counters: RedisCounters) -> None:
            first = await reserve(counters, ledger, "r1", now)
            assert first is not None
            ledger.quotas.settle(first, event())  # 25 tokens count 50
            await counters.finish(first, event())
            assert await reserve(counters, ledger, "r2", now) is not None  # 50 + 0 < 100
            plan = read_plan(ledger, ledger.quotas.quotas, WHO, now)
            found = await counters.reserve("r3", WHO, plan, BOUND, now, now + timedelta(hours=1))
            assert found.refusal is not None  # 50 + 2 × 60 held
            assert (found.refusal.used, found.refusal.reserved) == (50, 120)
            assert ledger.usage_summary(user_id="u1")["used"] == 50

        run(redis_url, redis_prefix, ledger, work)


def test_the_environment_names_the_redis_before_the_config() -> None:
    quotas = parse_quotas({"quotas": {"redis": "redis://config:6379/0"}})
    assert redis_url(quotas, {}) == "redis://config:6379/0"
    env = {"LLMLEDGER_QUOTA_REDIS": "redis://:pw@env:6379/1"}
    assert redis_url(quotas, env) == "redis://:pw@env:6379/1"
    assert redis_url(parse_quotas({}), {}) is None
    with pytest.raises(ConfigError, match="LLMLEDGER_QUOTA_REDIS: 'env:6379' is not a Redis URL"):
        redis_url(quotas, {"LLMLEDGER_QUOTA_REDIS": "env:6379"})

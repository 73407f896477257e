"""Two ``llmledger serve`` processes on one PostgreSQL ledger sharing quota counters in one
Redis: a budget of 40 requests holds across both (40 or 41 of 200 admitted, 16 concurrent
clients on each), the ledger's totals equal the fake upstream's, and Redis agrees with the
ledger afterwards; a Redis flushed between two bursts is seeded again from the ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2
import pytest

from llmledger.query import EventFilter
from tests.gateway.conftest import GatewayProcess, tagged, wait_for
from tests.gateway.quota_fixtures import (
    REQUEST_TOKENS,
    FixedUsageUpstream,
    as_user,
    chat,
    quota_config,
    quota_ledger,
    start_gateway,
    summary,
)

pytestmark = pytest.mark.slow

ALLOWED, CLIENTS = 40, 16
PLANS = f"""
[plans.hobby]
tokens = {ALLOWED * REQUEST_TOKENS}
"""


def redis_quotas(url: str, prefix: str, extra: str = "") -> str:
    return f'redis = "{url}"\nredis_prefix = "{prefix}"\n{extra}'


def two_gateways(
    tmp_path: Path, port: int, pg_url: str, quotas: str, plans: str = PLANS
) -> list[GatewayProcess]:
    started: list[GatewayProcess] = []
    try:
        for name in ("a", "b"):
            config = quota_config(port, tmp_path / name, quotas=quotas, plans=plans)
            started.append(start_gateway(tmp_path / name, config, pg_url))  # type: ignore[arg-type]
    except BaseException:
        for process in started:
            process.stop()
        raise
    return started


async def hammer(urls: list[str], key: str, tag: str, requests: int) -> list[int]:
    """``requests`` requests from ``CLIENTS`` clients on each of ``urls``; their statuses."""
    statuses: list[int] = []
    left = iter(range(requests))
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": REQUEST_TOKENS,  # the bound covers the real use
    }
    headers = {"authorization": f"Bearer {key}", "x-test-tag": tag}

    async def client(base: str) -> None:
        async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
            for _ in left:
                reply = await http.post("/v1/chat/completions", json=body, headers=headers)
                statuses.append(reply.status_code)

    await asyncio.gather(*(client(url) for url in urls for _ in range(CLIENTS)))
    return statuses


def until_full(urls: list[str], key: str, tag: str) -> list[int]:
    """Requests one at a time until one is refused with nothing held in flight: a burst can
    end while the last admitted requests still hold their bound (more than they use), and
    all of its tail be refused for room that their settles give back."""
    statuses: list[int] = []
    for turn in range(200):
        with httpx2.Client(base_url=urls[turn % len(urls)], timeout=30) as http:
            reply = chat(http, key, tag)
        statuses.append(reply.status_code)
        if reply.status_code == 429 and "in flight" not in reply.json()["error"]["message"]:
            return statuses
    raise AssertionError(f"never refused without requests in flight: {statuses}")


def check_ledger(
    processes: list[GatewayProcess], fake: FixedUsageUpstream, user: str, tag: str, ok: int
) -> None:
    assert len(tagged(fake, tag)) == ok  # refused requests never reached the upstream
    with quota_ledger(processes[0]) as ledger:
        events = list(ledger.events(EventFilter(equals={"user_id": (user,)})))
        assert len(events) == ok
        assert sum(e.total_tokens for e in events) == ok * REQUEST_TOKENS
        assert ledger.usage_summary(user_id=user)["used"] == ok * REQUEST_TOKENS
    with httpx2.Client(base_url=processes[-1].url, timeout=10) as http:
        assert summary(http, as_user(user))["used"] == ok * REQUEST_TOKENS


def redis_used(url: str, prefix: str, subject: str) -> int:
    """The month counter of ``subject`` in Redis (tokens: io + cache)."""
    import redis

    with redis.Redis.from_url(url, decode_responses=True) as client:
        keys = list(client.scan_iter(match=f"{prefix}:c:month:*:{subject}"))
        assert len(keys) == 1, keys
        row = client.hmget(keys[0], ["io", "cache"])
        return int(row[0]) + int(row[1])


def test_two_gateways_share_a_budget_of_40_through_redis(
    fixed: FixedUsageUpstream,
    tmp_path: Path,
    postgres_schema_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    processes = two_gateways(
        tmp_path, fixed.port, postgres_schema_url, redis_quotas(redis_url, redis_prefix)
    )
    try:
        key, _ = processes[0].create_key("shared")
        urls = [p.url for p in processes]
        statuses = asyncio.run(hammer(urls, key, "redis-crowd", 200))
        statuses += until_full(urls, key, "redis-crowd")
        ok = statuses.count(200)
        assert ALLOWED <= ok <= ALLOWED + 1, statuses
        assert statuses.count(429) == len(statuses) - ok
        check_ledger(processes, fixed, "shared", "redis-crowd", ok)
        assert redis_used(redis_url, redis_prefix, "user:shared") == ok * REQUEST_TOKENS
        with quota_ledger(processes[0]) as ledger:  # the plan's alerts fired, once each
            fired = [(a.limit_key, a.threshold) for a in ledger.quotas.alerts()]
        assert sorted(fired) == [("plan:user:shared", 80), ("plan:user:shared", 100)]
    finally:
        for process in processes:
            process.stop()


def test_a_flushed_redis_is_seeded_again_from_the_ledger(
    fixed: FixedUsageUpstream,
    tmp_path: Path,
    postgres_schema_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    import redis

    processes = two_gateways(
        tmp_path, fixed.port, postgres_schema_url, redis_quotas(redis_url, redis_prefix)
    )
    try:
        key, _ = processes[0].create_key("flushed")
        urls = [p.url for p in processes]
        first = asyncio.run(hammer(urls, key, "redis-flush", 25))
        assert first.count(200) == 25
        with redis.Redis.from_url(redis_url) as client:  # lost: every key of this ledger
            client.delete(*client.scan_iter(match=f"{redis_prefix}:*"))
        statuses = first + asyncio.run(hammer(urls, key, "redis-flush", 175))
        statuses += until_full(urls, key, "redis-flush")
        ok = statuses.count(200)
        assert ALLOWED <= ok <= ALLOWED + 1, statuses
        check_ledger(processes, fixed, "flushed", "redis-flush", ok)
        assert redis_used(redis_url, redis_prefix, "user:flushed") == ok * REQUEST_TOKENS
    finally:
        for process in processes:
            process.stop()


def test_a_redis_flushed_mid_load_overruns_by_at_most_the_requests_in_flight(
    fixed: FixedUsageUpstream,
    tmp_path: Path,
    postgres_schema_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    """Lost mid-load, Redis loses the holds of the requests in flight: until reconciliation
    (here every 0.1 s) they may let as many more through, never more; afterwards Redis and
    the ledger agree again."""
    import threading

    import redis

    quotas = redis_quotas(redis_url, redis_prefix, "redis_reconcile_seconds = 0.1\n")
    processes = two_gateways(tmp_path, fixed.port, postgres_schema_url, quotas)
    try:
        key, _ = processes[0].create_key("midflush")

        def flush() -> None:
            wait_for(lambda: len(tagged(fixed, "redis-midflush")) >= 10, timeout=30)
            with redis.Redis.from_url(redis_url) as client:
                client.delete(*client.scan_iter(match=f"{redis_prefix}:*"))

        flusher = threading.Thread(target=flush)
        flusher.start()
        urls = [p.url for p in processes]
        statuses = asyncio.run(hammer(urls, key, "redis-midflush", 200))
        flusher.join()
        statuses += until_full(urls, key, "redis-midflush")
        ok = statuses.count(200)
        assert ALLOWED <= ok <= ALLOWED + 1 + 2 * CLIENTS, statuses
        check_ledger(processes, fixed, "midflush", "redis-midflush", ok)
        assert wait_for(
            lambda: redis_used(redis_url, redis_prefix, "user:midflush") == ok * REQUEST_TOKENS
        )
    finally:
        for process in processes:
            process.stop()


def test_a_gateway_killed_mid_load_loses_and_doubles_nothing(
    fixed: FixedUsageUpstream,
    tmp_path: Path,
    postgres_schema_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    """SIGKILL mid-load: every answer a client saw complete is in the ledger once, and once
    the killed gateway's holds expire, reconciliation brings Redis to the ledger's count."""
    import threading
    import time

    from tests.postgres.test_gateways import _load

    extra = "redis_reconcile_seconds = 0.1\nreservation_seconds = 2\n"
    plenty = "[plans.hobby]\ntokens = 1000000000\n"
    quotas = redis_quotas(redis_url, redis_prefix, extra)
    survivor, killed = two_gateways(tmp_path, fixed.port, postgres_schema_url, quotas, plenty)
    try:
        key, _ = survivor.create_key("killed")
        killer = threading.Timer(1.0, killed.kill9)
        started = time.monotonic()
        killer.start()
        completed = asyncio.run(_load([survivor.url, killed.url], key, "redis-kill", 25))
        killer.join()
        assert time.monotonic() - started > 1.0  # the kill came mid-load
        with quota_ledger(survivor) as ledger:
            events = list(ledger.events(EventFilter(equals={"user_id": ("killed",)})))
        recorded = [str(e.details.get("response_id")) for e in events if e.details]
        assert len(recorded) == len(events) == len(set(recorded))  # none counted twice
        assert set(completed) <= set(recorded)  # every complete answer was recorded
        assert len(events) <= len(tagged(fixed, "redis-kill"))
        used = len(events) * REQUEST_TOKENS
        assert wait_for(lambda: redis_used(redis_url, redis_prefix, "user:killed") == used, 30)
    finally:
        survivor.stop()
        killed.stop()

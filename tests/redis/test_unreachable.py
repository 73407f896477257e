"""Redis unreachable: a gateway does not start without it (one line naming the URL), and
one that loses it refuses requests with 503 (code ``quota_unavailable``) (fail closed: a budget is
never bypassed) while usage already admitted is still written to the ledger; when Redis is
back, requests pass again. And the reconciliation loop puts a drifted counter right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.gateway.conftest import wait_for
from tests.gateway.quota_fixtures import (
    REQUEST_TOKENS,
    FixedUsageUpstream,
    chat,
    quota_config,
    quota_ledger,
    start_gateway,
)
from tests.redis.tcp_relay import Relay

pytestmark = pytest.mark.slow


@pytest.fixture
def relay(redis_url: str) -> Iterator[Relay]:
    from urllib.parse import urlsplit

    parts = urlsplit(redis_url)
    opened = Relay((parts.hostname or "127.0.0.1", parts.port or 6379))
    yield opened
    opened.close()


def test_a_gateway_does_not_start_without_its_redis(
    fixed: FixedUsageUpstream, tmp_path: Path, relay: Relay
) -> None:
    relay.cut()
    quotas = f'redis = "redis://:pw@127.0.0.1:{relay.port}/0"\n'
    config = quota_config(fixed.port, tmp_path, quotas=quotas)
    with pytest.raises(AssertionError) as caught:
        start_gateway(tmp_path, config)
    lines = [line for line in str(caught.value).splitlines()[1:] if line.strip()]
    assert len(lines) == 1, lines
    assert (
        f"cannot reach Redis at redis://:***@127.0.0.1:{relay.port}/0 ([quotas] redis)"
        in (lines[0])
    )


def test_a_lost_redis_refuses_requests_with_503_until_it_is_back(
    fixed: FixedUsageUpstream, tmp_path: Path, relay: Relay, redis_prefix: str
) -> None:
    quotas = f'redis = "redis://127.0.0.1:{relay.port}/0"\nredis_prefix = "{redis_prefix}"\n'
    gateway = start_gateway(tmp_path, quota_config(fixed.port, tmp_path, quotas=quotas))
    try:
        key, _ = gateway.create_key("lost")
        with httpx2.Client(base_url=gateway.url, timeout=30) as http:
            assert chat(http, key, "redis-lost").status_code == 200
            relay.cut()
            refused = chat(http, key, "redis-lost")
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert (error["type"], error["code"]) == ("api_error", "quota_unavailable")
            assert f"cannot reach redis://127.0.0.1:{relay.port}/0" in error["message"]
            relay.restore()
            assert wait_for(lambda: chat(http, key, "redis-lost").status_code == 200)
        served = len(
            [e for e in fixed.log if e.get("headers", {}).get("x-test-tag") == "redis-lost"]
        )
        with quota_ledger(gateway) as ledger:
            assert ledger.usage_summary(user_id="lost")["used"] == served * REQUEST_TOKENS
    finally:
        gateway.stop()


def test_the_reconciliation_loop_puts_a_drifted_counter_right(
    fixed: FixedUsageUpstream, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    import redis

    quotas = (
        f'redis = "{redis_url}"\nredis_prefix = "{redis_prefix}"\nredis_reconcile_seconds = 0.1\n'
    )
    gateway = start_gateway(tmp_path, quota_config(fixed.port, tmp_path, quotas=quotas))
    try:
        key, _ = gateway.create_key("drift")
        with httpx2.Client(base_url=gateway.url, timeout=30) as http:
            assert chat(http, key, "redis-drift").status_code == 200
        with redis.Redis.from_url(redis_url, decode_responses=True) as client:
            (counter,) = client.scan_iter(match=f"{redis_prefix}:c:month:*:user:drift")
            client.hset(counter, "io", "123456")
            assert wait_for(lambda: client.hget(counter, "io") == str(REQUEST_TOKENS))
    finally:
        gateway.stop()

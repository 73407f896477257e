"""A gateway killed (SIGKILL) while its request is at the upstream leaves its reservation in
Redis: the other gateway counts it (429, "held by requests in flight") until it expires after
``reservation_seconds``, then admits again."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from tests.gateway.conftest import GatewayProcess, wait_for
from tests.gateway.quota_fixtures import (
    REQUEST_TOKENS,
    TOKENS_ENV,
    FixedUsageUpstream,
    chat,
    quota_config,
)
from tests.redis.test_gateways import two_gateways

pytestmark = pytest.mark.slow


def test_the_reservation_of_a_killed_gateway_expires(
    fixed: FixedUsageUpstream,
    tmp_path: Path,
    postgres_schema_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    quotas = f'redis = "{redis_url}"\nredis_prefix = "{redis_prefix}"\nreservation_seconds = 8\n'
    plans = f"[plans.hobby]\ntokens = {REQUEST_TOKENS}\n"  # one held bound fills it
    killed, survivor = two_gateways(tmp_path, fixed.port, postgres_schema_url, quotas, plans)
    try:
        key, _ = killed.create_key("crashed")
        body = {
            "model": "stall-1",  # three events, then the upstream says nothing more
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": REQUEST_TOKENS,
            "stream": True,
        }
        headers = {"authorization": f"Bearer {key}"}
        path = "/v1/chat/completions"
        with (
            httpx2.Client(base_url=killed.url, timeout=30) as http,
            http.stream("POST", path, json=body, headers=headers) as reply,
        ):
            assert reply.status_code == 200
            next(reply.iter_bytes())  # under way: its bound is held in Redis
            killed.kill9()
        with httpx2.Client(base_url=survivor.url, timeout=30) as http:
            refused = chat(http, key, "redis-crash")
            assert refused.status_code == 429, refused.text
            assert "held by requests in flight" in refused.json()["error"]["message"]
            admitted = wait_for(lambda: chat(http, key, "redis-crash").status_code == 200, 60, 0.2)
            assert admitted is True
    finally:
        survivor.stop()


def test_a_sqlite_ledger_with_redis_from_the_environment(
    fixed: FixedUsageUpstream, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    quotas = f'redis_prefix = "{redis_prefix}"\n'  # the URL from the environment
    plans = f"[plans.hobby]\ntokens = {2 * REQUEST_TOKENS}\n"
    config = quota_config(fixed.port, tmp_path, quotas=quotas, plans=plans)
    env = {**TOKENS_ENV, "LLMLEDGER_QUOTA_REDIS": redis_url}
    gateway = GatewayProcess(tmp_path, config, env=env).start()
    try:
        key, _ = gateway.create_key("local")
        with httpx2.Client(base_url=gateway.url, timeout=30) as http:
            statuses = [chat(http, key, "redis-sqlite").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        import redis

        with redis.Redis.from_url(redis_url) as client:
            assert len(list(client.scan_iter(match=f"{redis_prefix}:c:month:*"))) == 1
    finally:
        gateway.stop()

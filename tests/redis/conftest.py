"""Fixtures for the Redis quota counters: the test Redis (.ci/run starts it) with a key prefix
of the test's own, its keys deleted after; skips with a reason naming the server when Redis
or the redis package is missing (fails instead under CI=true)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_SERVER = os.environ.get("LLMLEDGER_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_or_skip() -> str:
    """The test Redis's URL; skips (fails under CI=true) when it or the package is missing."""
    why = ""
    try:
        import redis

        with redis.Redis.from_url(REDIS_SERVER, socket_connect_timeout=3) as client:
            client.ping()
    except ImportError:
        why = "the redis package is not installed (pip install -e '.[test]')"
    except Exception as exc:
        why = f"no Redis server at {REDIS_SERVER} ({str(exc).strip().splitlines()[0]})"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is needed under CI: {why}")
        pytest.skip(why)
    return REDIS_SERVER


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the test Redis (its keys are deleted after)."""
    import redis

    server = redis_or_skip()
    prefix = f"llt-{uuid.uuid4().hex[:12]}"
    yield prefix
    with redis.Redis.from_url(server) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


@pytest.fixture
def redis_url() -> str:
    return redis_or_skip()

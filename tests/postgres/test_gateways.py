"""Several ``llmledger serve`` processes on one PostgreSQL ledger: a budget shared by two
gateways holds (40 or 41 of 200 admitted), and a gateway killed with SIGKILL mid-load loses no
request a client saw complete and doubles none."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx2
import pytest

from llmledger.query import EventFilter
from tests.gateway.conftest import tagged
from tests.gateway.quota_fixtures import (
    REQUEST_TOKENS,
    FixedUsageUpstream,
    quota_config,
    quota_ledger,
    start_gateway,
)
from tests.gateway.test_quota_concurrency import PLANS, _check

pytestmark = pytest.mark.slow


def test_two_gateways_on_one_postgresql_ledger_admit_40_of_200(
    fixed: FixedUsageUpstream, tmp_path: Path, pg_url: str
) -> None:
    first = start_gateway(
        tmp_path / "a",
        quota_config(fixed.port, tmp_path / "a", plans=PLANS),
        pg_url,  # type: ignore[arg-type]
    )
    try:
        second = start_gateway(
            tmp_path / "b",
            quota_config(fixed.port, tmp_path / "b", plans=PLANS),
            pg_url,  # type: ignore[arg-type]
        )
        try:
            _check([first, second], fixed, "pg-crowd", "pg-crowd")
        finally:
            second.stop()
    finally:
        first.stop()


async def _load(urls: list[str], key: str, tag: str, per_client: int) -> list[str]:
    """16 clients on each gateway; the ids of the answers that arrived complete."""
    completed: list[str] = []
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {key}", "x-test-tag": tag}

    async def client(base: str) -> None:
        async with httpx2.AsyncClient(base_url=base, timeout=10) as http:
            for _ in range(per_client):
                try:
                    reply = await http.post("/v1/chat/completions", json=body, headers=headers)
                    data = reply.json()
                except (httpx2.HTTPError, ValueError):
                    await asyncio.sleep(0.01)  # the killed gateway: nothing arrived complete
                    continue
                if reply.status_code == 200 and data["usage"]["total_tokens"] == REQUEST_TOKENS:
                    completed.append(str(data["id"]))

    await asyncio.gather(*(client(url) for url in urls for _ in range(16)))
    return completed


def test_a_gateway_killed_mid_load_loses_and_doubles_nothing(
    fixed: FixedUsageUpstream, tmp_path: Path, pg_url: str
) -> None:
    plenty = "[plans.hobby]\ntokens = 1000000000\n"
    first = start_gateway(
        tmp_path / "a",
        quota_config(fixed.port, tmp_path / "a", plans=plenty),
        pg_url,  # type: ignore[arg-type]
    )
    second = start_gateway(
        tmp_path / "b",
        quota_config(fixed.port, tmp_path / "b", plans=plenty),
        pg_url,  # type: ignore[arg-type]
    )
    try:
        key, _ = first.create_key("crowd")
        killer = threading.Timer(1.0, second.kill9)
        started = time.monotonic()
        killer.start()
        completed = asyncio.run(_load([first.url, second.url], key, "pg-kill", per_client=25))
        killer.join()
        assert time.monotonic() - started > 1.0  # the kill came mid-load
        with quota_ledger(first) as ledger:
            events = list(ledger.events(EventFilter(equals={"user_id": ("crowd",)})))
        recorded = [str(e.details.get("response_id")) for e in events if e.details]
        assert len(recorded) == len(events) == len(set(recorded))  # no answer counted twice
        assert set(completed) <= set(recorded)  # every complete answer was recorded
        assert len(completed) < 50 * 16  # some requests died with the killed gateway
        served = tagged(fixed, "pg-kill")
        assert len(events) <= len(served)
        assert sum(e.total_tokens for e in events) == len(events) * REQUEST_TOKENS
    finally:
        first.stop()

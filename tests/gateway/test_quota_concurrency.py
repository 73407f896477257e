"""Budgets hold under concurrency: 200 requests from 16 concurrent clients against a plan that
allows 40 of them, through one gateway process and through two on one SQLite ledger. Between
40 and 41 succeed, and the ledger, the counters and the upstream agree exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2

from llmledger.query import EventFilter
from llmledger.quota.limits import Subject
from tests.gateway.conftest import GatewayProcess, tagged
from tests.gateway.quota_fixtures import (
    REQUEST_TOKENS,
    FixedUsageUpstream,
    as_user,
    quota_config,
    quota_ledger,
    start_gateway,
    summary,
)

REQUESTS, CLIENTS, ALLOWED = 200, 16, 40
PLANS = f"""
[plans.hobby]
tokens = {ALLOWED * REQUEST_TOKENS}
"""


async def _hammer(urls: list[str], key: str, tag: str) -> list[int]:
    """``REQUESTS`` requests from ``CLIENTS`` clients, spread over ``urls``; their statuses."""
    statuses: list[int] = []
    left = iter(range(REQUESTS))
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": REQUEST_TOKENS,  # the bound covers the real use: at most 40 admitted
    }
    headers = {"authorization": f"Bearer {key}", "x-test-tag": tag}

    async def client(number: int) -> None:
        base = urls[number % len(urls)]
        async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
            for _ in left:
                reply = await http.post("/v1/chat/completions", json=body, headers=headers)
                statuses.append(reply.status_code)

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return statuses


def _check(processes: list[GatewayProcess], fake: FixedUsageUpstream, user: str, tag: str) -> None:
    key, key_id = processes[0].create_key(user)
    statuses = asyncio.run(_hammer([p.url for p in processes], key, tag))
    ok = statuses.count(200)
    assert ALLOWED <= ok <= ALLOWED + 1, statuses
    assert statuses.count(429) == REQUESTS - ok
    assert len(tagged(fake, tag)) == ok  # refused requests never reached the upstream
    with quota_ledger(processes[0]) as ledger:
        events = list(ledger.events(EventFilter(equals={"user_id": (user,)})))
        assert len(events) == ok
        assert all(e.status == "200" and e.total_tokens == REQUEST_TOKENS for e in events)
        counted = ledger.usage_summary(user_id=user)["used"]
        assert counted == sum(e.total_tokens for e in events) == ok * REQUEST_TOKENS
        assert ledger.quotas.held(Subject(user_id=user, key_id=key_id)) == {}
    with httpx2.Client(base_url=processes[-1].url, timeout=10) as http:
        assert summary(http, as_user(user))["used"] == ok * REQUEST_TOKENS


def test_one_gateway_admits_40_of_200(fixed: FixedUsageUpstream, tmp_path: Path) -> None:
    process = start_gateway(tmp_path, quota_config(fixed.port, tmp_path, plans=PLANS))
    try:
        _check([process], fixed, "crowd-one", "crowd-one")
    finally:
        process.stop()


def test_two_gateways_on_one_ledger_admit_40_of_200(
    fixed: FixedUsageUpstream, tmp_path: Path
) -> None:
    shared = tmp_path / "shared.db"
    first = start_gateway(
        tmp_path / "a", quota_config(fixed.port, tmp_path / "a", plans=PLANS), shared
    )
    try:
        second = start_gateway(
            tmp_path / "b", quota_config(fixed.port, tmp_path / "b", plans=PLANS), shared
        )
        try:
            _check([first, second], fixed, "crowd-two", "crowd-two")
        finally:
            second.stop()
    finally:
        first.stop()

"""Gateways with plans, budgets and the usage API on: a fake upstream whose every chat answer
uses exactly ``REQUEST_TOKENS`` tokens, configs with ``[quotas]``/``[plans]``/``[server]``,
and small HTTP helpers for the usage API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2

from llmledger.config import parse_config
from llmledger.ledger import Ledger
from tests.gateway.conftest import GatewayProcess, standard_config
from tests.gateway.fake_upstream import FakeUpstream

PROMPT_TOKENS, COMPLETION_TOKENS = 20, 5
REQUEST_TOKENS = PROMPT_TOKENS + COMPLETION_TOKENS
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
SERVICE_TOKEN = "service-token-for-tests-0123456789"
TOKENS_ENV = {"TEST_ADMIN_TOKEN": ADMIN_TOKEN, "TEST_SERVICE_TOKEN": SERVICE_TOKEN}
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


class FixedUsageUpstream(FakeUpstream):
    """The fake upstream, every chat completion reporting 20 prompt + 5 completion tokens."""

    def _openai_usage(self, n: int, entry: dict[str, Any]) -> dict[str, Any]:
        entry["expected"] = {
            "input_tokens": PROMPT_TOKENS,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cache_write_1h_tokens": 0,
            "output_tokens": COMPLETION_TOKENS,
            "reasoning_tokens": 0,
        }
        usage = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": REQUEST_TOKENS,
        }
        entry["usage"] = usage
        return usage


def quota_config(
    upstream_port: int,
    workdir: Path,
    *,
    quotas: str = "",
    plans: str = "",
    server: str = "",
) -> str:
    """The standard gateway config with ``[quotas]``, plans and ``[server]`` tables; a
    request's head and body may take 30 s to arrive (the concurrency tests load 2 CPUs with
    32 clients and two gateways: 2 s gave a few 408s on a busy machine)."""
    return (
        standard_config(upstream_port, workdir, request_timeout=30.0)
        + f"""
[quotas]
{quotas}

{plans}

[server]
admin_token_env = "TEST_ADMIN_TOKEN"
service_token_env = "TEST_SERVICE_TOKEN"
audit_log = "{workdir / "audit.jsonl"}"
keepalive_seconds = 0.5
{server}
"""
    )


def start_gateway(workdir: Path, config: str, db: Path | None = None) -> GatewayProcess:
    process = GatewayProcess(workdir, config, env=TOKENS_ENV)
    if db is not None:
        process.db = db
    return process.start()


def quota_ledger(process: GatewayProcess) -> Ledger:
    """The gateway's ledger, opened with the gateway's own config (same quota zone)."""
    import tomllib

    raw = tomllib.loads(process.config_path.read_text())
    return Ledger(process.db, config=parse_config(raw), env={})


def chat(
    client: httpx2.Client, key: str, tag: str, path: str = "/v1/chat/completions"
) -> httpx2.Response:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": REQUEST_TOKENS,
    }
    headers = {"authorization": f"Bearer {key}", "x-test-tag": tag}
    return client.post(path, json=body, headers=headers)


def as_user(user: str) -> dict[str, str]:
    """A trusted backend naming the user: the service token and X-User-Id."""
    return {"authorization": f"Bearer {SERVICE_TOKEN}", "x-user-id": user}


def summary(client: httpx2.Client, headers: dict[str, str]) -> dict[str, Any]:
    reply = client.get("/api/account/usage", headers=headers)
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()["summary"]
    return found


def simulate(client: httpx2.Client, user: str, tokens: int | list[int]) -> httpx2.Response:
    return client.post(
        "/api/test/simulate-tokens", json={"tokens": tokens, "user_id": user}, headers=ADMIN
    )

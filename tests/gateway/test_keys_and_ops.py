"""``llmledger keys`` (create / list / revoke, hashed storage) against a running gateway, and
the operations surface: /healthz, /metrics (bounded labels), access logs without secrets,
per-account reports."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import uuid

import openai
import pytest

from tests.gateway.conftest import UPSTREAM_KEYS, GatewayProcess, wait_for
from tests.gateway.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "hi"}]


def cli(gateway: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "llmledger.cli.main", *args, "--db", str(gateway.db)]
    return subprocess.run(argv, env=gateway.env, capture_output=True, text=True, timeout=60)


def client_for(gateway: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)


def test_keys_create_list_revoke(gateway: GatewayProcess) -> None:
    user = f"cli-{uuid.uuid4().hex[:8]}"
    created = cli(gateway, "keys", "create", "--user", user, "--org", "acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    assert re.fullmatch(r"llk_[A-Za-z0-9_-]{43}", key)
    key_id = re.search(r"created key (key_[0-9a-f]+) for user " + user, created.stdout)
    assert key_id is not None

    # Works at once against the running gateway (it reloads keys on an unknown one).
    client = client_for(gateway, key)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    (event,) = gateway.events(api_key_id=key_id.group(1))
    assert (event.user_id, event.org_id) == (user, "acme")

    listed = cli(gateway, "keys", "list", "--json")
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    row = rows[key_id.group(1)]
    assert (row["user"], row["org"], row["revoked"]) == (user, "acme", None)
    assert key[:12] == row["prefix"] and key not in listed.stdout
    table = cli(gateway, "keys", "list").stdout
    assert key_id.group(1) in table and key not in table

    # Stored hashed: the key itself is nowhere in the database.
    with sqlite3.connect(gateway.db) as db:
        dump = "\n".join(db.iterdump())
    assert key not in dump and key[len("llk_") :] not in dump

    revoked = cli(gateway, "keys", "revoke", key_id.group(1))
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    again = cli(gateway, "keys", "revoke", key_id.group(1))
    assert again.returncode == 1 and "already revoked" in again.stderr
    unknown = cli(gateway, "keys", "revoke", "key_000000000000")
    assert unknown.returncode == 1 and "no key with id" in unknown.stderr

    def refused() -> bool:
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        except openai.AuthenticationError:
            return True
        return False

    wait_for(refused, timeout=20)  # the gateway re-reads its keys every few seconds
    assert "--all" in cli(gateway, "keys", "list", "--help").stdout
    assert key_id.group(1) not in cli(gateway, "keys", "list").stdout
    assert key_id.group(1) in cli(gateway, "keys", "list", "--all").stdout


def test_keys_create_requires_a_user(gateway: GatewayProcess) -> None:
    result = cli(gateway, "keys", "create")
    assert result.returncode == 2 and "--user" in result.stderr


def test_healthz(gateway: GatewayProcess) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{gateway.url}/healthz") as response:
        body = json.loads(response.read())
    assert body["status"] == "ok"
    assert body["upstreams"] == ["oai", "claude"]
    assert body["ledger"]["failed"] == 0


def test_metrics_count_requests_tokens_and_bound_label_cardinality(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    import urllib.request

    key, _ = gateway.create_key("metrics-user")
    client = client_for(gateway, key)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    # Invented model names (served by a glob) must not grow the label set without bound.
    for i in range(3):
        client.chat.completions.create(
            model=f"gpt-made-up-{uuid.uuid4().hex}-{i}", messages=MESSAGES
        )
    with urllib.request.urlopen(f"{gateway.url}/metrics") as response:
        assert response.headers["content-type"].startswith("text/plain")
        text = response.read().decode()
    assert "# TYPE llmledger_gateway_requests_total counter" in text
    assert re.search(
        r'llmledger_gateway_requests_total\{endpoint="chat.completions",model="gpt-4o-mini",'
        r'account="oai/[ab]",status="200"\} \d+',
        text,
    )
    assert re.search(
        r'llmledger_gateway_tokens_total\{model="gpt-4o-mini",account="oai/[ab]",'
        r'type="cache_read"\} \d+',
        text,
    )
    # Per-user series are off unless the operator turns them on: no user ids in the scrape.
    assert "llmledger_gateway_user_" not in text and "metrics-user" not in text
    assert "llmledger_gateway_overhead_seconds_bucket" in text
    assert 'llmledger_gateway_account_requests_today{account="oai/a"}' in text
    models = set(re.findall(r'llmledger_gateway_requests_total\{[^}]*model="([^"]+)"', text))
    assert len(models) <= 100 + 1  # metrics_label_limit distinct values, then "other"
    for secret in (*UPSTREAM_KEYS.values(), key):
        assert secret not in text


def test_access_log_is_structured_and_has_no_secrets(gateway: GatewayProcess) -> None:
    key, key_id = gateway.create_key("logged")
    prompt = [{"role": "user", "content": "private-prompt-text"}]
    client_for(gateway, key).chat.completions.create(model="gpt-4o-mini", messages=prompt)
    log = gateway.workdir / "access.log"

    def logged() -> list[dict]:
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [r for r in lines if r.get("key") == key_id]

    (record,) = wait_for(logged)
    assert (
        record["status"] == 200 and record["user"] == "logged" and record["model"] == "gpt-4o-mini"
    )
    (event,) = gateway.events(api_key_id=key_id)  # the log says what the ledger holds
    assert (record["input_tokens"], record["account"]) == (event.input_tokens, event.account)
    text = log.read_text()
    for secret in (*UPSTREAM_KEYS.values(), key):
        assert secret not in text
    assert "private-prompt-text" not in text and "Hello from" not in text  # no bodies


def test_group_by_account_report(gateway: GatewayProcess) -> None:
    key, _ = gateway.create_key("report")
    client = client_for(gateway, key)
    for _ in range(2):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    result = cli(gateway, "daily", "--group-by", "account", "--json", "--no-scan")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    text = json.dumps(data)
    assert "oai/a" in text and "oai/b" in text
    rows = [r for r in data["daily"] if r["account"] == "oai/a"]
    events = gateway.events(account="oai/a")
    assert sum(r["requests"] for r in rows) == sum(e.requests for e in events)
    assert sum(r["inputTokens"] for r in rows) == sum(e.input_tokens for e in events)


@pytest.mark.parametrize("path", ["/v1/models", "/models"])
def test_models_needs_a_key(gateway: GatewayProcess, path: str) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{gateway.url}{path}")
    assert caught.value.code == 401

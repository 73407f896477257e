"""``llmledger serve`` with ``[[alerts.channels]]``: a plan's thresholds crossed by real
requests reach a webhook receiver on loopback, each alert once and signed, although the
receiver fails its first request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.alerts.receiver import Receiver
from tests.gateway.conftest import GatewayProcess, standard_config, wait_for
from tests.gateway.quota_fixtures import FixedUsageUpstream, chat, quota_config, start_gateway

SECRET = "gateway-alerts-secret"


@pytest.fixture
def upstream() -> Iterator[FixedUsageUpstream]:
    fake = FixedUsageUpstream()
    fake.start_in_thread()
    yield fake
    fake.stop()


def test_plan_thresholds_reach_the_webhook_once(
    upstream: FixedUsageUpstream, tmp_path: Path
) -> None:
    receiver = Receiver(secret=SECRET, script=[500]).start()
    config = quota_config(
        upstream.port,
        tmp_path,
        quotas='default_plan = "tiny"',
        plans="[plans.tiny]\ntokens = 100",
    ) + (
        f"""
[alerts]
backoff_seconds = 0.05
state_dir = "{tmp_path / "alerts"}"

[[alerts.channels]]
type = "webhook"
url = "{receiver.url}/hook"
secret = "{SECRET}"
"""
    )
    gateway = start_gateway(tmp_path, config)
    try:
        key, _ = gateway.create_key("carol")
        with httpx2.Client(base_url=gateway.url, timeout=10) as client:
            for _ in range(4):  # 25, 50, 75, 100 of 100 tokens
                assert chat(client, key, "carol").status_code == 200

        def delivered() -> list[str]:
            return sorted(r.body["id"] for r in receiver.accepted)

        wait_for(lambda: len(delivered()) == 2, timeout=15)
    finally:
        assert gateway.stop() == 0
        receiver.stop()
    bodies = sorted((r.body for r in receiver.accepted), key=lambda b: b["details"]["threshold"])
    assert [(b["type"], b["severity"], b["title"]) for b in bodies] == [
        ("quota.fired", "warning", "user:carol reached 80% of plan tiny"),
        ("quota.fired", "critical", "user:carol reached 100% of plan tiny"),
    ]
    assert [r.signature_ok for r in receiver.received] == [True, True, True]
    assert receiver.received[0].status == 500  # the failed first try was sent again
    assert len(receiver.received) == 3


def test_a_failing_upstream_account_raises_an_anomaly(
    upstream: FixedUsageUpstream, tmp_path: Path
) -> None:
    receiver = Receiver(secret=SECRET).start()
    config = standard_config(upstream.port, tmp_path) + (
        f"""
[alerts]
backoff_seconds = 0.05
check_interval_seconds = 0.2
upstream_min_failures = 3
state_dir = "{tmp_path / "alerts"}"

[[alerts.channels]]
type = "webhook"
url = "{receiver.url}/hook"
secret = "{SECRET}"
"""
    )
    # Both accounts of the OpenAI upstream answer every request with a 500.
    failing = {"FAKE_KEY_A": "sk-fail-500", "FAKE_KEY_B": "sk-fail-500"}
    gateway = GatewayProcess(tmp_path, config, env=failing).start()
    try:
        key, _ = gateway.create_key("dave")
        with httpx2.Client(base_url=gateway.url, timeout=10) as client:
            statuses = [chat(client, key, "dave").status_code for _ in range(6)]
        assert set(statuses) - {502, 503} == set(), statuses
        wait_for(lambda: len(receiver.accepted) >= 1, timeout=15)
    finally:
        assert gateway.stop() == 0
        receiver.stop()
    # Failover tries oai/a, then oai/b: each request is recorded, failed, on the last one.
    assert statuses == [502] * 6
    [body] = [r.body for r in receiver.accepted]  # one alert per account and hour
    assert (body["type"], body["severity"], body["title"]) == (
        "anomaly.upstream_errors",
        "critical",
        "Upstream account oai/b is failing",
    )
    assert body["id"].startswith("anomaly:upstream_errors:oai/b:")
    details = body["details"]
    assert details["account"] == "oai/b"
    assert 3 <= details["failed"] == details["requests"] <= 6

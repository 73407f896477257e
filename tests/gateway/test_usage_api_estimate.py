"""Estimating a request before sending it: ``Ledger.estimate``, ``llmledger estimate`` and
``POST /api/estimate`` give the same answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from llmledger.config import parse_config
from llmledger.estimate import estimate_request_tokens, tokenizer_name
from llmledger.ledger import Ledger
from tests.gateway.conftest import GatewayProcess
from tests.gateway.quota_fixtures import (
    FixedUsageUpstream,
    as_user,
    quota_config,
    simulate,
    start_gateway,
)

REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Say hello in five words."}],
    "max_tokens": 200,
}
# gpt-4o-mini: $0.15 / $0.60 per million input / output tokens.
INPUT = estimate_request_tokens("chat.completions", REQUEST, "gpt-4o-mini")


def expected(admitted: bool = True) -> dict[str, object]:
    return {
        "model": "gpt-4o-mini",
        "api": "chat.completions",
        "inputTokens": INPUT,
        "estimated": True,
        "estimator": tokenizer_name(),
        "maxOutputTokens": 200,
        "outputGiven": True,
        "costMin": INPUT * 0.15 / 1e6,
        "costMax": (INPUT * 0.15 + 200 * 0.60) / 1e6,
        "admitted": admitted,
        "refusal": None,
    }


def test_ledger_estimate(tmp_path: Path) -> None:
    raw = {"plans": {"hobby": {"tokens": 100}}}
    with Ledger(tmp_path / "l.db", config=parse_config(raw), env={}) as ledger:
        found = ledger.estimate(REQUEST)
        assert found == pytest.approx(expected())
        assert (
            ledger.estimate({**REQUEST, "max_tokens": None}, reserve_output_tokens=50)[
                "maxOutputTokens"
            ]
            == 50
        )
        ledger.record_user_tokens("u1", 100)
        refused = ledger.estimate(REQUEST, user_id="u1")
        assert refused["admitted"] is False
        assert refused["refusal"]["type"] == "budget_exceeded"
        assert refused["refusal"]["used"] == 100


def test_the_cli_and_the_api_say_the_same(tmp_path: Path) -> None:
    body = tmp_path / "request.json"
    body.write_text(json.dumps({k: v for k, v in REQUEST.items() if k != "model"}))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmledger.cli.main",
            "estimate",
            "--model",
            "gpt-4o-mini",
            "--json",
            str(body),
        ],
        capture_output=True,
        text=True,
        env={"LLMLEDGER_HOME": str(tmp_path), "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == pytest.approx(expected())
    upstream = FixedUsageUpstream(record=False)
    upstream.start_in_thread()
    config = quota_config(upstream.port, tmp_path / "gw", server="allow_simulation = true")
    process: GatewayProcess = start_gateway(tmp_path / "gw", config)
    try:
        with httpx2.Client(base_url=process.url, timeout=10) as http:
            reply = http.post("/api/estimate", json=REQUEST, headers=as_user("estimator"))
            assert reply.status_code == 200, reply.text
            assert reply.json() == pytest.approx(expected())
            assert simulate(http, "estimator", 50000).status_code == 200
            refused = http.post("/api/estimate", json=REQUEST, headers=as_user("estimator"))
            assert refused.json()["admitted"] is False
            bad = http.post("/api/estimate", json={"messages": []}, headers=as_user("estimator"))
            assert (bad.status_code, bad.json()["error"]["param"]) == (422, "model")
    finally:
        process.stop()
        upstream.stop()

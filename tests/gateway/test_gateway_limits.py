"""What an operator configures, against real ``llmledger serve`` processes: a 429 rests one
account for one model for a bounded time, ``/metrics`` behind a token (per-user series only
when turned on), CORS for the origins named, the client connection cap (and its log line),
the open-file limit raised at start, the environment's HTTP proxy, and the app run by uvicorn
itself through ``create_app``."""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import GatewayProcess, standard_config, tagged, wait_for
from tests.gateway.fake_proxy import FakeProxy
from tests.gateway.fake_upstream import FakeUpstream
from tests.gateway.rawhttp import RawConnection, error_code

TUNED = """
cors_origins = ["https://app.example"]
metrics_token_env = "METRICS_TOKEN"
metrics_user_labels = true
max_rate_limit_rest = 1
"""


@pytest.fixture(scope="module")
def tuned(fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("tuned")
    process = GatewayProcess(
        workdir, standard_config(fake.port, workdir, TUNED), env={"METRICS_TOKEN": "mt-secret"}
    )
    yield process.start()
    process.stop()


def client_for(gateway: GatewayProcess, key: str, tag: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=key,
        max_retries=0,
        default_headers={"x-test-tag": tag},
    )


def test_a_429_rests_only_that_account_for_that_model_and_not_for_long(
    tuned: GatewayProcess, fake: FakeUpstream
) -> None:
    tag = uuid.uuid4().hex[:12]
    key, key_id = tuned.create_key(f"limits-{tag}")
    client = client_for(tuned, key, tag)

    def keys_since(count: int) -> list[tuple[str, str, int]]:
        return [(e["model"], e["key"], e["status"]) for e in tagged(fake, tag)[count:]]

    client.chat.completions.create(model="limited-1", messages=[])  # a says 429 for it, b serves
    assert keys_since(0) in (
        [("limited-1", "sk-good-a", 429), ("limited-1", "sk-good-b", 200)],
        [("limited-1", "sk-good-b", 200)],
    )
    seen = len(tagged(fake, tag))
    for _ in range(3):  # a rests for limited-1: only b is asked
        client.chat.completions.create(model="limited-1", messages=[])
    assert keys_since(seen) == [("limited-1", "sk-good-b", 200)] * 3
    seen = len(tagged(fake, tag))
    for _ in range(2):  # ... but not for other models: other users are not locked out
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert sorted(k for _, k, _ in keys_since(seen)) == ["sk-good-a", "sk-good-b"]
    # Retry-After said an hour; max_rate_limit_rest = 1 bounds the rest.
    time.sleep(1.2)
    seen = len(tagged(fake, tag))
    for _ in range(2):
        client.chat.completions.create(model="limited-1", messages=[])
    assert ("limited-1", "sk-good-a", 429) in keys_since(seen)
    assert all(e.success for e in tuned.events(api_key_id=key_id))


def _get(url: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_metrics_need_the_token_and_show_users_only_when_turned_on(tuned: GatewayProcess) -> None:
    key, _ = tuned.create_key("metered-user")
    client_for(tuned, key, "m").chat.completions.create(model="gpt-4o-mini", messages=[])
    status, body, _ = _get(f"{tuned.url}/metrics")
    assert status == 401 and json.loads(body)["error"]["code"] == "metrics_token_required"
    status, _, _ = _get(f"{tuned.url}/metrics", Authorization="Bearer wrong")
    assert status == 401
    status, text, headers = _get(f"{tuned.url}/metrics", Authorization="Bearer mt-secret")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert 'llmledger_gateway_user_requests_total{user="metered-user"} 1' in text
    assert "mt-secret" not in text and key not in text


def test_cors_answers_the_configured_origins_only(tuned: GatewayProcess) -> None:
    key, _ = tuned.create_key("browser")
    with RawConnection(tuned.port) as conn:
        status, headers, _ = conn.request(
            "OPTIONS",
            "/v1/chat/completions",
            Origin="https://app.example",
            Access_Control_Request_Method="POST",
            Access_Control_Request_Headers="authorization, content-type, x-session-id",
        )
        assert status == 200
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert "POST" in headers["access-control-allow-methods"]
        assert "x-session-id" in headers["access-control-allow-headers"].lower()
        body = b'{"model": "gpt-4o-mini", "messages": []}'
        status, headers, _ = conn.request(
            "POST",
            "/v1/chat/completions",
            body,
            Origin="https://app.example",
            Authorization=f"Bearer {key}",
        )
        assert status == 200
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert "x-llmledger-cost" in headers["access-control-expose-headers"]
        status, headers, _ = conn.request(
            "OPTIONS",
            "/v1/chat/completions",
            Origin="https://evil.example",
            Access_Control_Request_Method="POST",
        )
        assert status == 400 and "access-control-allow-origin" not in headers


def _lower_file_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))


def _soft_file_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="needs /proc")
def test_the_open_file_limit_is_raised_and_the_connection_cap_holds(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    process = GatewayProcess(tmp_path, standard_config(fake.port, tmp_path, "max_connections = 4"))
    process.start(preexec=_lower_file_limit)
    try:
        assert process.proc is not None
        if hard > 256:
            assert _soft_file_limit(process.proc.pid) == min(hard, 1 << 20)
        assert "up to 4 connections" in "".join(process.stderr)
        idle = [socket.create_connection(("127.0.0.1", process.port)) for _ in range(4)]
        time.sleep(0.2)
        with RawConnection(process.port) as refused:
            status, headers, body = refused.response()  # answered before it asks anything
        assert status == 503 and error_code(body) == "too_many_connections"
        assert headers["connection"] == "close"
        wait_for(lambda: "connection cap reached" in "".join(process.stderr))
        for sock in idle:
            sock.close()
        time.sleep(0.2)
        with RawConnection(process.port) as conn:
            assert conn.request("GET", "/healthz")[0] == 200
    finally:
        process.stop()
    assert "Traceback" not in "".join(process.stderr)


def test_upstream_calls_go_through_the_environments_proxy(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    proxy = FakeProxy().start_in_thread()
    try:
        for no_proxy in ("", "127.0.0.1"):
            workdir = tmp_path / f"proxy{no_proxy or 'on'}"
            env = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": no_proxy}
            process = GatewayProcess(workdir, standard_config(fake.port, workdir), env=env).start()
            try:
                key, key_id = process.create_key("proxied")
                before = len(proxy.requests)
                client_for(process, key, "p").chat.completions.create(
                    model="gpt-4o-mini", messages=[]
                )
                through = proxy.requests[before:]
            finally:
                process.stop()
            if no_proxy:
                assert through == []  # NO_PROXY names the upstream's host
            else:
                assert through == [
                    f"POST http://127.0.0.1:{fake.port}/v1/chat/completions HTTP/1.1"
                ]
            assert len(process.events(api_key_id=key_id)) == 1
    finally:
        proxy.stop()


def test_uvicorn_runs_the_app_factory(fake: FakeUpstream, tmp_path: Path) -> None:
    """``uvicorn --factory llmledger.gateway:create_app``: config and ledger from the env."""
    config = tmp_path / "config.toml"
    config.write_text(standard_config(fake.port, tmp_path))
    env = {
        **os.environ,
        "LLMLEDGER_CONFIG": str(config),
        "LLMLEDGER_DB": str(tmp_path / "ledger.db"),
        "FAKE_KEY_A": "sk-good-a",
        "FAKE_KEY_B": "sk-good-b",
    }
    argv = [sys.executable, "-m", "uvicorn", "--factory", "llmledger.gateway:create_app"]
    proc = subprocess.Popen([*argv, "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        started = (re.search(r"running on http://127\.0\.0\.1:(\d+)", line) for line in proc.stderr)
        found = next((match for match in started if match), None)
        assert found is not None, "uvicorn did not start"
        port = int(found.group(1))
        status, body, _ = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body)["upstreams"] == ["oai", "claude"]
        status, body, _ = _get(f"http://127.0.0.1:{port}/v1/models")
        assert status == 401 and json.loads(body)["error"]["code"] == "missing_api_key"
    finally:
        proc.terminate()
        proc.wait(30)

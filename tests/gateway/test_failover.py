"""Account rotation through a real gateway: failover on 429/401/5xx/connect errors before any
byte reached the client, daily request caps (kept across restarts), and clear 429/502 errors
when every account is exhausted; failed requests are in the ledger with their status."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import openai
import pytest

from tests.gateway.conftest import GatewayProcess, tagged
from tests.gateway.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "hi"}]
TEXT = "Hello from the fake upstream! Tokens are counted."  # what the fake answers


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens


def failover_config(port: int, dead_port: int, extra: str = "") -> str:
    def account(name: str, env: str, cap: str = "") -> str:
        return f'  [[upstreams.accounts]]\n  name = "{name}"\n  api_key_env = "{env}"\n{cap}\n'

    def upstream(name: str, models: str, base: str, *accounts: str, more: str = "") -> str:
        return (
            f'[[upstreams]]\nname = "{name}"\nprotocol = "openai"\nbase_url = "{base}"\n'
            f"models = {models}\n{more}\n" + "".join(accounts)
        )

    good = f"http://127.0.0.1:{port}/v1"
    dead = f"http://127.0.0.1:{dead_port}/v1"
    return "\n".join(
        [
            f'[gateway]\naccess_log = "off"\n{extra}',
            upstream(
                "flaky",
                '["flaky-*"]',
                good,
                account("r429", "K429"),
                account("r401", "K401"),
                account("r500", "K500"),
                account("good", "KGOOD"),
            ),
            upstream(
                "gone", '["multi-*"]', dead, account("x", "KGOOD"), more="connect_timeout = 2"
            ),
            upstream("backup", '["multi-*"]', good, account("y", "KGOOD")),
            upstream("limited", '["dead-*"]', good, account("p", "K429"), account("q", "K429")),
            upstream("broken", '["down-*"]', good, account("p", "K503"), account("q", "K500")),
            upstream(
                "capped",
                '["capped-*"]',
                good,
                account("one", "KGOOD", "  daily_request_cap = 2"),
                account("two", "KGOOD", "  daily_request_cap = 1"),
            ),
            upstream("picky", '["picky-*"]', good, account("p", "K400")),
            upstream(
                "stalling",
                '["stall-*"]',
                good,
                account("s", "KGOOD"),
                more="timeout = 0.5",
            ),
        ]
    )


ENV = {
    "K429": "sk-fail-429",
    "K401": "sk-fail-401",
    "K500": "sk-fail-500",
    "K503": "sk-fail-503",
    "K400": "sk-fail-400",
    "KGOOD": "sk-good-a",
}


@pytest.fixture(scope="module")
def rotating(
    fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("failover")
    process = GatewayProcess(workdir, failover_config(fake.port, _closed_port()), env=ENV)
    yield process.start()
    process.stop()


@pytest.fixture
def client(rotating: GatewayProcess) -> Iterator[tuple[openai.OpenAI, str, str]]:
    tag = uuid.uuid4().hex[:12]
    key, key_id = rotating.create_key(f"user-{tag}")
    client = openai.OpenAI(
        base_url=f"{rotating.url}/v1",
        api_key=key,
        max_retries=0,
        default_headers={"x-test-tag": tag},
    )
    yield client, key_id, tag
    client.close()


def test_fails_over_on_429_401_and_500_to_a_good_account(
    rotating: GatewayProcess, fake: FakeUpstream, client: tuple[openai.OpenAI, str, str]
) -> None:
    api, key_id, tag = client
    reply = api.chat.completions.create(model="flaky-1", messages=MESSAGES)
    assert reply.choices[0].message.content == TEXT
    keys = [s["key"] for s in tagged(fake, tag)]
    assert keys[-1] == "sk-good-a"
    assert keys[:-1] == ["sk-fail-429", "sk-fail-401", "sk-fail-500"]
    (event,) = rotating.events(api_key_id=key_id)
    assert (event.account, event.success, event.status) == ("flaky/good", True, "200")
    served = [s for s in tagged(fake, tag) if "expected" in s]
    assert event.output_tokens == served[0]["expected"]["output_tokens"]
    attempts = (event.details or {}).get("failed_attempts", [])
    assert [(a["account"], a["status"]) for a in attempts] == [
        ("flaky/r429", 429),
        ("flaky/r401", 401),
        ("flaky/r500", 500),
    ]


def test_streams_fail_over_too(
    rotating: GatewayProcess, fake: FakeUpstream, client: tuple[openai.OpenAI, str, str]
) -> None:
    api, key_id, tag = client
    chunks = list(api.chat.completions.create(model="flaky-2", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == TEXT
    (event,) = rotating.events(api_key_id=key_id)
    (served,) = [s for s in tagged(fake, tag) if "expected" in s]
    assert event.account == "flaky/good"
    assert event.output_tokens == served["expected"]["output_tokens"]


def test_fails_over_to_another_upstream_when_one_is_unreachable(
    rotating: GatewayProcess, fake: FakeUpstream, client: tuple[openai.OpenAI, str, str]
) -> None:
    api, key_id, _ = client
    api.chat.completions.create(model="multi-1", messages=MESSAGES)
    (event,) = rotating.events(api_key_id=key_id)
    assert event.account == "backup/y"
    assert (event.details or {})["failed_attempts"] == [
        {"account": "gone/x", "error": "unreachable"}
    ]


def test_all_accounts_rate_limited_is_a_clear_429(
    rotating: GatewayProcess, client: tuple[openai.OpenAI, str, str]
) -> None:
    api, key_id, _ = client
    with pytest.raises(openai.RateLimitError) as caught:
        api.chat.completions.create(model="dead-1", messages=MESSAGES)
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "accounts_exhausted"
    assert "all upstream accounts for 'dead-1' are exhausted" in error["message"]
    assert "limited/p (429)" in error["message"] and "limited/q (429)" in error["message"]
    (event,) = rotating.events(api_key_id=key_id)
    assert (event.success, event.status, event.total_tokens) == (False, "429", 0)


def test_all_accounts_failing_is_a_clear_502(
    rotating: GatewayProcess, client: tuple[openai.OpenAI, str, str]
) -> None:
    api, key_id, _ = client
    with pytest.raises(openai.APIStatusError) as caught:
        api.chat.completions.create(model="down-1", messages=MESSAGES)
    assert caught.value.status_code == 502
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "upstream_unavailable"
    assert "broken/p (503)" in error["message"] and "broken/q (500)" in error["message"]
    (event,) = rotating.events(api_key_id=key_id)
    assert (event.success, event.status) == (False, "502")


def test_client_errors_from_the_upstream_pass_through_and_are_recorded(
    rotating: GatewayProcess, client: tuple[openai.OpenAI, str, str]
) -> None:
    api, key_id, _ = client
    with pytest.raises(openai.BadRequestError) as caught:
        api.chat.completions.create(model="picky-1", messages=MESSAGES)
    assert caught.value.body == {
        "message": "fake failure 400",
        "type": "api_error",
        "param": None,
        "code": None,
    }
    (event,) = rotating.events(api_key_id=key_id)
    assert (event.success, event.status, event.account) == (False, "400", "picky/p")


def test_upstream_timeout_mid_stream_is_recorded_as_failed_and_estimated(
    rotating: GatewayProcess, client: tuple[openai.OpenAI, str, str]
) -> None:
    api, key_id, _ = client
    received = []
    with pytest.raises(openai.APIError):  # the stream is cut, never passed off as complete
        for chunk in api.chat.completions.create(model="stall-1", messages=MESSAGES, stream=True):
            received.append(chunk)
    assert len(received) == 3  # what the upstream sent before it stalled got through
    (event,) = rotating.events(api_key_id=key_id)
    assert (event.success, event.status, event.estimated) == (False, "502", True)
    # Estimated: "hi" in the chat framing is 8 tokens; "Hello from" arrived before the stall.
    assert (event.input_tokens, event.output_tokens) == (8, 2)
    assert "stream_error" in (event.details or {})


def test_daily_caps_hold_and_survive_a_restart(
    rotating: GatewayProcess, client: tuple[openai.OpenAI, str, str]
) -> None:
    api, key_id, _ = client
    for _ in range(3):
        api.chat.completions.create(model="capped-1", messages=MESSAGES)
    accounts = sorted(e.account for e in rotating.events(api_key_id=key_id))
    assert accounts == ["capped/one", "capped/one", "capped/two"]
    with pytest.raises(openai.RateLimitError) as caught:
        api.chat.completions.create(model="capped-1", messages=MESSAGES)
    message = str(caught.value)
    assert "capped: 2 at their daily request cap" in message
    # A restarted gateway counts today's requests from the ledger: the caps still hold.
    rotating.stop()
    rotating.start()
    api = api.with_options(base_url=f"{rotating.url}/v1")
    with pytest.raises(openai.RateLimitError):
        api.chat.completions.create(model="capped-1", messages=MESSAGES)
    failed = [e for e in rotating.events(api_key_id=key_id) if not e.success]
    assert [(e.status, e.account) for e in failed] == [("429", None), ("429", None)]

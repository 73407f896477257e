"""What the hand-written HTTP stack got wrong, against a real ``llmledger serve``: HEAD and
OPTIONS on a kept-alive connection, the key checked before ``100 Continue``, query strings
forwarded, upstream ``1xx`` heads skipped, unreadable or cut upstream bodies estimated and
flagged, a request that may have reached the upstream never sent twice, UTF-8 headers."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import GatewayProcess, event_tokens, standard_config, tagged
from tests.gateway.fake_upstream import FakeUpstream
from tests.gateway.rawhttp import RawConnection, chat, error_code, raw_request


@pytest.fixture
def user(gateway: GatewayProcess) -> tuple[str, str, str]:
    """(ledger key, key id, tag) of a fresh user of the shared gateway."""
    tag = uuid.uuid4().hex[:12]
    key, key_id = gateway.create_key(f"gaps-{tag}")
    return key, key_id, tag


def test_head_and_options_keep_a_kept_alive_connection_framed(gateway: GatewayProcess) -> None:
    with RawConnection(gateway.port) as conn:
        status, headers, _ = conn.request("HEAD", "/healthz")
        assert status == 200 and int(headers["content-length"]) > 0
        status, headers, _ = conn.request("HEAD", "/v1/chat/completions")
        assert status == 405 and "POST" in headers["allow"]
        status, headers, body = conn.request("OPTIONS", "/v1/chat/completions")
        assert (status, body) == (204, b"")
        assert {m.strip() for m in headers["allow"].split(",")} == {"POST", "OPTIONS"}
        status, headers, _ = conn.request("OPTIONS", "/healthz")
        assert status == 204 and {"GET", "HEAD"} <= set(
            headers["allow"].replace(" ", "").split(",")
        )
        # The same connection still reads as HTTP: no stray body was sent after a HEAD.
        status, _, body = conn.request("GET", "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, headers, body = conn.request("GET", "/v1/chat/completions")
        assert status == 405 and error_code(body) == "method_not_allowed"
        assert headers["content-type"] == "application/json"
        status, _, body = conn.request("GET", "/nope")
        assert status == 404 and error_code(body) == "not_found"


def test_the_key_is_checked_before_100_continue(
    gateway: GatewayProcess, user: tuple[str, str, str]
) -> None:
    key, key_id, _ = user
    body = chat()
    with RawConnection(gateway.port) as conn:
        head = raw_request("POST", "/v1/chat/completions", None, Authorization="Bearer llk_no")
        conn.send(
            head.replace(
                b"\r\n\r\n",
                f"\r\nContent-Length: {len(body)}".encode() + b"\r\nExpect: 100-continue\r\n\r\n",
            )
        )
        status, _, reply = conn.response()  # no 100 Continue: the body is never invited
        assert status == 401 and error_code(reply) == "invalid_api_key"
    with RawConnection(gateway.port) as conn:
        head = raw_request("POST", "/v1/chat/completions", None, Authorization=f"Bearer {key}")
        conn.send(
            head.replace(
                b"\r\n\r\n",
                f"\r\nContent-Length: {len(body)}".encode() + b"\r\nExpect: 100-continue\r\n\r\n",
            )
        )
        status, _, _ = conn.response()
        assert status == 100  # the key is good: now the body is asked for
        conn.send(body)
        status, _, reply = conn.response()
        assert status == 200 and json.loads(reply)["object"] == "chat.completion"
    assert len(gateway.events(api_key_id=key_id)) == 1


def test_query_strings_reach_the_upstream(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, _, tag = user
    client = openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=key,
        max_retries=0,
        default_headers={"x-test-tag": tag},
        default_query={"api-version": "2024-10-21", "deployment": "a b"},
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    list(client.chat.completions.create(model="gpt-4o", messages=[], stream=True))
    queries = [entry["query"] for entry in tagged(fake, tag)]
    assert queries == ["api-version=2024-10-21&deployment=a+b"] * 2


def test_a_cookie_the_upstream_sets_is_not_sent_back(fake: FakeUpstream, tmp_path: Path) -> None:
    """Cookies are per client; the gateway is many clients: one's cookie must not reach the
    upstream on another's request (the fake sets one on every JSON answer). The upstream is
    named by host name: an HTTP client's cookie jar keeps no cookies of bare IP addresses."""
    config = standard_config(fake.port, tmp_path).replace("//127.0.0.1:", "//localhost:")
    assert "//localhost:" in config
    process = GatewayProcess(tmp_path, config).start()
    try:
        key, _ = process.create_key("cookies")
        tag = uuid.uuid4().hex[:12]
        client = openai.OpenAI(
            base_url=f"{process.url}/v1",
            api_key=key,
            max_retries=0,
            default_headers={"x-test-tag": tag},
        )
        for _ in range(3):
            client.chat.completions.create(model="gpt-4o-mini", messages=[])
    finally:
        process.stop()
    sent = [entry["headers"] for entry in tagged(fake, tag)]
    assert len(sent) == 3
    assert [h.get("cookie") for h in sent] == [None, None, None]


def test_an_upstream_1xx_head_is_skipped(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=key,
        max_retries=0,
        default_headers={"x-test-tag": tag},
    )
    reply = client.chat.completions.create(model="early-gpt", messages=[])
    assert reply.choices[0].message.content == "Hello from the fake upstream! Tokens are counted."
    (served,) = tagged(fake, tag)
    (event,) = gateway.events(api_key_id=key_id)
    assert event.status == "200" and event_tokens(event) == served["expected"]


def test_an_unreadable_upstream_body_is_estimated_and_flagged(
    gateway: GatewayProcess, user: tuple[str, str, str]
) -> None:
    key, key_id, _ = user
    with RawConnection(gateway.port) as conn:
        status, headers, body = conn.request(
            "POST", "/v1/chat/completions", chat("garbage-gpt"), Authorization=f"Bearer {key}"
        )
    assert status == 200 and body.startswith(b"<html>")  # relayed as it came
    assert headers["x-llmledger-estimated"] == "true"
    (event,) = gateway.events(api_key_id=key_id)
    # "Say hello" in the chat framing is 9 tokens; the answer text, the whole page, 11.
    assert (event.estimated, event.input_tokens, event.output_tokens) == (True, 9, 11)
    assert (event.details or {})["reason"] == "unreadable response"
    assert int(headers["x-llmledger-total-tokens"]) == event.total_tokens


def test_a_body_cut_by_the_upstream_is_estimated_flagged_and_failed(
    gateway: GatewayProcess, user: tuple[str, str, str]
) -> None:
    key, key_id, _ = user
    with RawConnection(gateway.port) as conn:
        status, _, body = conn.request(
            "POST", "/v1/chat/completions", chat("cut-gpt"), Authorization=f"Bearer {key}"
        )
    assert status == 502 and error_code(body) == "upstream_error"
    assert "cut short" in json.loads(body)["error"]["message"]
    (event,) = gateway.events(api_key_id=key_id)
    assert (event.success, event.status, event.estimated) == (False, "502", True)
    # What arrived is estimated as the answer, as for an unreadable body: the 18 tokens of
    # '{"id": "cut", "choices": [{"message": {"content": "Hello th', not just "Hello th".
    assert (event.input_tokens, event.output_tokens) == (9, 18)
    assert (event.details or {})["reason"] == "response cut"


def test_a_request_that_may_have_reached_the_upstream_is_never_sent_twice(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=key,
        max_retries=0,
        default_headers={"x-test-tag": tag},
    )
    for _ in range(4):  # pooled keep-alive connections to both accounts
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="drop-gpt", messages=[])
    assert caught.value.status_code == 502
    dropped = [e for e in tagged(fake, tag) if e["model"] == "drop-gpt"]
    assert len(dropped) == 1  # neither resent on the connection nor failed over
    failed = [e for e in gateway.events(api_key_id=key_id) if not e.success]
    account = "oai/" + dropped[0]["key"][-1]  # sk-good-a / sk-good-b
    assert [(e.status, e.account) for e in failed] == [("502", account)]


def test_utf8_headers_are_read_as_utf8(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    with RawConnection(gateway.port) as conn:
        status, _, _ = conn.request(
            "POST",
            "/v1/chat/completions",
            chat(),
            Authorization=f"Bearer {key}",
            X_Session_Id="sess-é",
            X_Request_Type="résumé",
            User_Agent="app/1 (ünïcode)",
            X_Test_Tag=tag,
        )
    assert status == 200
    (event,) = gateway.events(api_key_id=key_id)
    assert (event.session_id, event.request_type) == ("sess-é", "résumé")
    (served,) = tagged(fake, tag)
    assert served["headers"]["user-agent"] == "app/1 (ünïcode)"  # forwarded as sent


def test_cors_is_off_by_default(gateway: GatewayProcess) -> None:
    with RawConnection(gateway.port) as conn:
        status, headers, _ = conn.request(
            "OPTIONS",
            "/v1/chat/completions",
            Origin="https://app.example",
            Access_Control_Request_Method="POST",
        )
        assert status == 204 and "access-control-allow-origin" not in headers
        _, headers, _ = conn.request("GET", "/healthz", Origin="https://app.example")
        assert "access-control-allow-origin" not in headers

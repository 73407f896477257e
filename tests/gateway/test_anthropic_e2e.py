"""The real ``anthropic`` SDK through ``llmledger serve`` to the fake upstream: Messages JSON and
streams pass through intact; cache reads and 5-minute / 1-hour cache writes land in the ledger
exactly as reported (cumulative ``message_delta`` usage is not summed)."""

from __future__ import annotations

import uuid

import anthropic
import pytest

from tests.gateway.conftest import GatewayProcess, assert_ledger_matches_fake, tagged
from tests.gateway.fake_upstream import FakeUpstream

TEXT = "Hello from the fake upstream! Tokens are counted."
MESSAGES = [{"role": "user", "content": "Say hello"}]


def client_for(gateway: GatewayProcess, key: str, tag: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=gateway.url, api_key=key, max_retries=0, default_headers={"x-test-tag": tag}
    )


@pytest.fixture
def user(gateway: GatewayProcess) -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:12]
    key, key_id = gateway.create_key(f"user-{tag}", org="org-c")
    return key, key_id, tag


def test_messages_json(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES
    )
    message = raw.parse()
    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    served = tagged(fake, tag)[0]
    assert message.usage.input_tokens == served["usage"]["input_tokens"]
    assert served["key"] == "sk-good-a"
    assert served["headers"]["x-api-key"] == "sk-good-a"
    # The client's API version passes through; its ledger key does not.
    assert served["headers"]["anthropic-version"] == raw.http_request.headers["anthropic-version"]
    assert key not in str(served["headers"])
    (event,) = assert_ledger_matches_fake(gateway, fake, key_id, tag, 1)
    assert (event.provider, event.account, event.request_type) == (
        "anthropic",
        "claude/main",
        "messages",
    )
    assert int(raw.headers["x-llmledger-cache-write-tokens"]) == (
        event.cache_write_tokens + event.cache_write_1h_tokens
    )
    assert int(raw.headers["x-llmledger-total-tokens"]) == event.total_tokens


def test_messages_stream(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == TEXT
    served = tagged(fake, tag)[0]
    assert final.usage.output_tokens == served["usage"]["output_tokens"]
    assert "stream_options" not in served["request"]  # Anthropic streams carry usage anyway
    (event,) = assert_ledger_matches_fake(gateway, fake, key_id, tag, 1)
    assert event.details is not None and event.details["stream"] is True


def test_many_messages_per_key_totals(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    """Different usage per request (the fake varies every count): totals still exact."""
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    for i in range(6):
        if i % 2:
            client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=MESSAGES)
        else:
            events = client.messages.create(
                model="claude-sonnet-4-5", max_tokens=8, messages=MESSAGES, stream=True
            )
            assert [e.type for e in events][-1] == "message_stop"
    events = assert_ledger_matches_fake(gateway, fake, key_id, tag, 6)
    assert sum(e.cache_write_1h_tokens for e in events) > 0
    assert sum(e.cache_read_tokens for e in events) > 0


def test_anthropic_errors_are_in_anthropic_shape(gateway: GatewayProcess) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="llk_wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=MESSAGES)
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid or revoked ledger key"},
    }

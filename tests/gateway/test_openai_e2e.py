"""The real ``openai`` SDK through ``llmledger serve`` (a real process) to the fake upstream:
every endpoint passes through intact and the ledger holds exactly what the upstream reported,
per request and per ledger key, committed before the response ended."""

from __future__ import annotations

import uuid
from decimal import Decimal

import openai
import pytest

from tests.gateway.conftest import GatewayProcess, assert_ledger_matches_fake, tagged
from tests.gateway.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "Say hello"}]
TEXT = "Hello from the fake upstream! Tokens are counted."


def client_for(gateway: GatewayProcess, key: str, tag: str, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=key,
        max_retries=0,
        default_headers={"x-test-tag": tag, **headers},
    )


@pytest.fixture
def user(gateway: GatewayProcess) -> tuple[str, str, str]:
    """(ledger key, key id, tag) of a fresh user of the shared gateway."""
    tag = uuid.uuid4().hex[:12]
    key, key_id = gateway.create_key(f"user-{tag}", org="acme", project="web")
    return key, key_id, tag


def test_chat_completions_json_and_usage_headers(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    reply = raw.parse()
    assert reply.choices[0].message.content == TEXT
    assert reply.id.startswith("chatcmpl-fake")
    served = tagged(fake, tag)[0]
    assert reply.usage is not None
    assert reply.usage.model_dump(exclude_none=True) == served["usage"]

    # Read at once, no waiting: the usage was committed before the body was sent.
    (event,) = assert_ledger_matches_fake(gateway, fake, key_id, tag, 1)
    assert (event.source, event.provider, event.model) == ("proxy", "openai", "gpt-4o-mini")
    assert (event.user_id, event.org_id, event.project) == (f"user-{tag}", "acme", "web")
    assert event.account in ("oai/a", "oai/b")
    assert event.request_type == "chat.completions"
    headers = raw.headers
    assert headers["x-llmledger-request-id"] == event.id.removeprefix("proxy:")
    assert int(headers["x-llmledger-input-tokens"]) == event.input_tokens
    assert int(headers["x-llmledger-cache-read-tokens"]) == event.cache_read_tokens
    assert int(headers["x-llmledger-output-tokens"]) == event.output_tokens
    assert int(headers["x-llmledger-total-tokens"]) == event.total_tokens
    # gpt-4o-mini per token: $0.15/M fresh input, $0.075/M cache reads, $0.60/M output.
    fresh, read, output = event.input_tokens, event.cache_read_tokens, event.output_tokens
    assert event.cost_nanos == fresh * 150 + read * 75 + output * 600
    assert Decimal(headers["x-llmledger-cost"]) == Decimal(event.cost_nanos) / 10**9
    assert headers["x-request-id"] == "req_fake"  # upstream headers pass through
    # The client's ledger key never reaches the upstream; the account's key does.
    assert served["key"] in ("sk-good-a", "sk-good-b")
    assert key not in str(served["headers"])


def test_stream_without_include_usage_hides_the_injected_usage_chunk(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    chunks = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert all(c.choices for c in chunks), "the usage-only chunk the gateway asked for leaked"
    assert all(c.usage is None for c in chunks)
    served = tagged(fake, tag)[0]
    assert served["include_usage"] is True  # injected upstream
    (event,) = assert_ledger_matches_fake(gateway, fake, key_id, tag, 1)
    assert event.details is not None and event.details["stream"] is True


def test_stream_with_include_usage_keeps_the_usage_chunk(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    served = tagged(fake, tag)[0]
    assert last.usage.model_dump(exclude_none=True) == served["usage"]
    assert sum(1 for c in chunks if c.usage is not None) == 1
    (event,) = assert_ledger_matches_fake(gateway, fake, key_id, tag, 1)
    # The usage chunk comes back with what the ledger committed, cost included.
    committed = (last.model_extra or {})["llmledger"]
    assert committed["request_id"] == event.id.removeprefix("proxy:")
    assert event.cost_nanos is not None
    assert Decimal(committed["cost"]) == Decimal(event.cost_nanos) / 10**9
    assert committed["total_tokens"] == event.total_tokens


def test_legacy_completions_json_and_stream(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    reply = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hello")
    assert reply.choices[0].text == TEXT
    pieces = list(
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x", stream=True)
    )
    assert "".join(p.choices[0].text for p in pieces if p.choices) == TEXT
    assert all(p.choices for p in pieces)
    assert_ledger_matches_fake(gateway, fake, key_id, tag, 2)


def test_responses_json_and_stream(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    reply = client.responses.create(model="o3-mini", input="Say hello")
    assert reply.output_text == TEXT
    events = list(client.responses.create(model="o3-mini", input="Say hello", stream=True))
    assert events[-1].type == "response.completed"
    served = tagged(fake, tag)
    assert "stream_options" not in served[1]["request"]  # the Responses API has no such option
    ledger_events = assert_ledger_matches_fake(gateway, fake, key_id, tag, 2)
    assert {e.request_type for e in ledger_events} == {"responses"}
    assert sum(e.reasoning_tokens for e in ledger_events) == sum(
        s["expected"]["reasoning_tokens"] for s in served
    )


def test_embeddings_float_and_base64(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    one = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert [d.embedding for d in one.data] == [[0.25, -0.5, 0.125, 1.0]] * 2
    two = client.embeddings.create(model="text-embedding-3-small", input="c")  # base64 default
    assert two.data[0].embedding == [0.25, -0.5, 0.125, 1.0]
    events = assert_ledger_matches_fake(gateway, fake, key_id, tag, 2)
    assert all(e.output_tokens == 0 and e.input_tokens > 0 for e in events)


def test_model_alias_and_prefix_rename(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    client.chat.completions.create(model="fast", messages=MESSAGES)
    client.chat.completions.create(model="team/gpt-4o", messages=MESSAGES)
    assert [s["model"] for s in tagged(fake, tag)] == ["gpt-4o-mini", "gpt-4o"]
    events = sorted(assert_ledger_matches_fake(gateway, fake, key_id, tag, 2), key=lambda e: e.ts)
    assert [e.model for e in events] == ["gpt-4o-mini", "gpt-4o"]
    assert [(e.details or {}).get("requested_model") for e in events] == ["fast", "team/gpt-4o"]


def test_session_and_request_type_headers_attribute_usage(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag, **{"X-Session-Id": "s-42", "X-Request-Type": "diagram"})
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True).close()
    events = gateway.events(api_key_id=key_id)
    assert {(e.session_id, e.request_type) for e in events} == {("s-42", "diagram")}
    # Attribution headers are the gateway's: they are not sent upstream.
    assert all("x-session-id" not in s["headers"] for s in tagged(fake, tag))


def test_models_list_and_requests_alternate_accounts(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    ids = [m.id for m in client.models.list()]
    assert {"gpt-4o-mini", "gpt-4o", "o3-mini", "text-embedding-3-small", "fast"} <= set(ids)
    assert "dall-e-3" not in ids  # the upstream lists it, but no pattern of ours serves it
    for _ in range(4):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    keys = [s["key"] for s in tagged(fake, tag) if s["path"] == "/v1/chat/completions"]
    assert sorted(keys) == ["sk-good-a", "sk-good-a", "sk-good-b", "sk-good-b"]
    events = assert_ledger_matches_fake(gateway, fake, key_id, tag, 4)
    by_account = {e.account for e in events}
    assert by_account == {"oai/a", "oai/b"}


def test_unknown_model_and_upstream_client_errors(
    gateway: GatewayProcess, fake: FakeUpstream, user: tuple[str, str, str]
) -> None:
    key, key_id, tag = user
    client = client_for(gateway, key, tag)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="llama-3", messages=MESSAGES)
    assert "llama-3" in str(missing.value) and "not served" in str(missing.value)
    assert gateway.events(api_key_id=key_id) == []  # nothing was sent anywhere

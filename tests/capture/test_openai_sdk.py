"""The real ``openai`` SDK (sync client) against the fake upstream: the ledger holds exactly the
counts the server reported, per call, with the right attribution."""

from __future__ import annotations

import gc
from decimal import Decimal
from typing import Any

import openai
import pytest

import llmledger
from llmledger import Ledger
from tests.capture import wire
from tests.capture.conftest import needs, only, recorded, tokens
from tests.capture.fake_upstream import FakeUpstream, Reply, Request

MESSAGES = [{"role": "user", "content": "Say hello"}]
PIECES = ["Hel", "lo", " there", "!"]


def chat_route(usage: dict[str, Any] = wire.OPENAI_CHAT_USAGE, **stream_kw: Any) -> Any:
    """Chat replies honouring ``stream`` and ``stream_options.include_usage`` like the API."""

    def respond(request: Request) -> Reply:
        model = request.model or "?"
        if request.body.get("stream"):
            frames = wire.chat_chunks(
                model, PIECES, usage, include_usage=request.include_usage, **stream_kw
            )
            return Reply(frames=frames)
        return Reply(json=wire.chat_completion(model, "Hello there!", usage))

    return respond


def test_chat_completion_with_cached_and_reasoning_tokens(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger, provider="openai")
    assert client is openai_client and type(client) is openai.OpenAI

    with llmledger.attribute(user_id="u1", org_id="o1", session_id="s1", request_type="chat"):
        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert reply.choices[0].message.content == "Hello there!"
    event = only(ledger)
    assert event.id == f"call:{reply.id}"
    assert (event.source, event.provider, event.model) == ("sdk", "openai", "gpt-4o")
    assert tokens(event) == {
        "input": 27,  # 125 prompt - 98 cached
        "cache_read": 98,
        "cache_write": 0,
        "cache_write_1h": 0,
        "output": 48,
        "reasoning": 16,
    }
    assert event.total_tokens == 173
    assert (event.user_id, event.org_id, event.session_id, event.request_type) == (
        "u1",
        "o1",
        "s1",
        "chat",
    )
    assert event.success and event.status == "ok" and not event.estimated
    assert event.latency_ms is not None and event.latency_ms > 0
    # gpt-4o: 27 fresh input at $2.50/M, 98 cache reads at $1.25/M, 48 output at $10/M.
    assert (event.cost_status, event.cost) == ("computed", Decimal("0.00067"))


def test_stream_gets_usage_chunk_injected_and_hidden(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger, user_id="u2")

    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert type(stream) is openai.Stream
    chunks = list(stream)

    # The app never sees the extra usage-only chunk: chunk.choices[0] works on every chunk.
    assert all(chunk.choices for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello there!"
    assert upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    event = only(ledger)
    assert event.id == f"call:{chunks[0].id}"
    assert tokens(event)["input"] == 27 and tokens(event)["output"] == 48
    assert event.cache_read_tokens == 98 and event.reasoning_tokens == 16
    assert event.user_id == "u2" and not event.estimated and event.success
    assert event.details is not None and event.details["stream_end"] == "complete"


def test_stream_chunks_are_those_of_a_stream_without_the_option(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    plain = list(
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    )
    client = llmledger.instrument(openai_client.copy(), ledger=ledger)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))

    # The ``"usage": null`` the injected option adds to every chunk never reaches the caller.
    def shown(chunk: Any) -> dict[str, Any]:
        return {k: v for k, v in chunk.to_dict().items() if k != "id"}

    assert [shown(c) for c in chunks] == [shown(c) for c in plain]
    assert all("usage" not in c.model_fields_set and c.usage is None for c in chunks)
    assert only(ledger).total_tokens == 173


def _stream_asking_for_usage(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> list[Any]:
    """The chunks of an instrumented stream whose caller set include_usage itself."""
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger)
    return list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )


def test_stream_caller_asked_for_usage_keeps_the_null_usage_fields(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    chunks = _stream_asking_for_usage(upstream, openai_client, ledger)
    assert all("usage" in c.model_fields_set for c in chunks)
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_caller_asked_for_usage_sees_the_usage_chunk(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    chunks = _stream_asking_for_usage(upstream, openai_client, ledger)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 125
    assert only(ledger).total_tokens == 173


def test_stream_helper_records_once(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger)
    needs(client.chat.completions, "stream")

    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        text = "".join(e.delta for e in stream if e.type == "content.delta")
        final = stream.get_final_completion()
    assert text == "Hello there!" and final.choices[0].message.content == "Hello there!"
    event = only(ledger)
    assert tokens(event)["output"] == 48 and event.cache_read_tokens == 98


def test_deepseek_cache_hit_and_miss(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route(wire.DEEPSEEK_USAGE))
    client = llmledger.instrument(openai_client, ledger=ledger, provider="deepseek")

    client.chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    list(client.chat.completions.create(model="deepseek-chat", messages=MESSAGES, stream=True))

    events = recorded(ledger)
    assert len(events) == 2
    for event in events:
        assert event.provider == "deepseek"
        assert (event.input_tokens, event.cache_read_tokens, event.output_tokens) == (360, 640, 200)
        assert event.cost_status == "computed"


def test_kimi_usage_inside_the_choice(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route(wire.KIMI_USAGE, usage_in_choice=True))
    client = llmledger.instrument(openai_client, ledger=ledger, provider="moonshot")

    chunks = list(
        client.chat.completions.create(
            model="kimi-k2-turbo-preview", messages=MESSAGES, stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "stop"  # the usage chunk is a real choice
    event = only(ledger)
    assert (event.provider, event.input_tokens, event.output_tokens) == ("moonshot", 10, 79)
    assert not event.estimated


def test_openrouter_reported_cost(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    usage = {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50, "cost": 0.00123}
    upstream.route("/chat/completions", chat_route(usage))
    client = llmledger.instrument(openai_client, ledger=ledger, provider="openrouter")

    client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES)
    event = only(ledger)
    assert event.cost_status == "reported" and str(event.cost) == "0.001230000"


def test_responses_api_json_and_terminal_events(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    terminals = iter(["completed", "incomplete", "failed"])

    def respond(request: Request) -> Reply:
        model = request.model or "?"
        if request.body.get("stream"):
            frames = wire.response_events(
                model, PIECES, wire.RESPONSES_USAGE, terminal=next(terminals)
            )
            return Reply(frames=frames)
        return Reply(json=wire.response_json(model, "Hello there!", wire.RESPONSES_USAGE))

    upstream.route("/responses", respond)
    client = llmledger.instrument(openai_client, ledger=ledger, provider="openai")
    needs(client, "responses")

    response = client.responses.create(model="gpt-5", input="Say hello")
    assert response.output_text == "Hello there!"
    for _ in range(3):
        list(client.responses.create(model="gpt-5", input="Say hello", stream=True))

    events = recorded(ledger)
    assert events[0].id == f"call:{response.id}"
    assert len(events) == 4
    for event in events:
        assert tokens(event) == {
            "input": 27,
            "cache_read": 98,
            "cache_write": 0,
            "cache_write_1h": 0,
            "output": 48,
            "reasoning": 20,
        }
        assert not event.estimated and event.details is not None
        assert event.details["api"] == "responses"
    assert "stream_options" not in upstream.requests[-1].body


def test_responses_stream_helper(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route(
        "/responses",
        lambda r: Reply(frames=wire.response_events(r.model or "?", PIECES, wire.RESPONSES_USAGE)),
    )
    client = llmledger.instrument(openai_client, ledger=ledger)
    needs(client, "responses", "stream")
    with client.responses.stream(model="gpt-5", input="Say hello") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == "Hello there!"
    assert only(ledger).total_tokens == 173


def test_embeddings(upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger) -> None:
    upstream.route(
        "/embeddings", lambda r: Reply(json=wire.embeddings_json(r.model or "?", 2, tokens=17))
    )
    client = llmledger.instrument(openai_client, ledger=ledger, provider="openai")
    with llmledger.attribute(project="search"):
        result = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2
    event = only(ledger)
    assert (event.model, event.input_tokens, event.output_tokens) == (
        "text-embedding-3-small",
        17,
        0,
    )
    assert event.project == "search" and event.id.startswith("sdk:")


def test_legacy_completions(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    upstream.route(
        "/completions",
        lambda r: Reply(json=wire.completion_legacy(r.model or "?", "once upon", usage)),
    )
    client = llmledger.instrument(openai_client, ledger=ledger)
    client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Tell a story")
    event = only(ledger)
    assert (event.input_tokens, event.output_tokens) == (5, 7)


def test_failed_call_records_a_failed_event_without_tokens(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", Reply(json=wire.error_json("slow down"), status=429))
    client = llmledger.instrument(openai_client, ledger=ledger, user_id="u9")

    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    event = only(ledger)
    assert not event.success and event.status == "429"
    assert event.total_tokens == 0 and event.model == "gpt-4o" and event.user_id == "u9"
    assert event.latency_ms is not None and event.latency_ms > 0


def test_connection_failure_records_a_failed_event(ledger: Ledger) -> None:
    client = llmledger.instrument(
        openai.OpenAI(api_key="sk", base_url="http://127.0.0.1:9/v1", max_retries=0), ledger
    )
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    event = only(ledger)
    assert not event.success and event.status == "APIConnectionError" and event.total_tokens == 0


def test_provider_rejecting_stream_options_is_retried_without_it(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    def respond(request: Request) -> Reply:
        if "stream_options" in request.body:
            return Reply(json=wire.error_json("Unknown parameter: stream_options"), status=400)
        frames = wire.chat_chunks(request.model or "?", PIECES, None, include_usage=False)
        return Reply(frames=frames)

    upstream.route("/chat/completions", respond)
    client = llmledger.instrument(openai_client, ledger=ledger)

    for _ in range(2):
        chunks = list(client.chat.completions.create(model="local", messages=MESSAGES, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello there!"

    # Asked once, refused once; the second call did not ask again.
    assert ["stream_options" in r.body for r in upstream.requests] == [True, False, False]
    events = recorded(ledger)
    assert len(events) == 2
    for event in events:
        assert event.estimated and event.success
        # Estimated with o200k: "Say hello" in the chat framing is 9, "Hello there!" 3.
        assert (event.input_tokens, event.output_tokens) == (9, 3)


def test_with_options_copies_are_instrumented(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger, user_id="u3")
    client.with_options(timeout=5).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client.copy(max_retries=1).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    events = recorded(ledger)
    assert [e.user_id for e in events] == ["u3", "u3"]


def test_raw_response_is_recorded_when_parsed(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger)

    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.headers["x-request-id"] == "req_test"
    completion = raw.parse()
    assert completion.usage is not None and completion.usage.total_tokens == 173
    event = only(ledger)
    assert event.id == f"call:{completion.id}" and event.total_tokens == 173

    raw_stream = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    assert all(chunk.choices for chunk in raw_stream.parse())
    assert len(recorded(ledger)) == 2


def test_raw_response_never_parsed_is_still_recorded(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.status_code == 200
    del raw
    gc.collect()
    assert only(ledger).total_tokens == 173


def test_instrumenting_twice_wraps_once_and_updates_settings(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    llmledger.instrument(openai_client, ledger=ledger, user_id="first")
    llmledger.instrument(openai_client, ledger=ledger, user_id="second")
    openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert only(ledger).user_id == "second"


def test_default_ledger_is_used_when_none_given(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    llmledger.set_default_ledger(ledger)
    client = llmledger.instrument(openai_client)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert only(ledger).total_tokens == 173


def test_unknown_attribute_and_client_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown attribution"):
        llmledger.instrument(openai.OpenAI(api_key="x"), user="u1")
    with pytest.raises(TypeError, match="openai and anthropic"):
        llmledger.instrument(object())


@pytest.mark.parametrize(
    ("provider", "model", "usage", "expected"),
    [
        (
            "dashscope",
            "qwen-plus",
            {
                "prompt_tokens": 3019,
                "completion_tokens": 104,
                "total_tokens": 3123,
                "prompt_tokens_details": {"cached_tokens": 2048},
            },
            (971, 2048, 0, 104),
        ),
        (
            "dashscope",
            "qwen-plus",
            {
                "prompt_tokens": 3019,
                "completion_tokens": 10,
                "total_tokens": 3029,
                "prompt_tokens_details": {"cache_creation_input_tokens": 3000},
            },
            (19, 0, 3000, 10),
        ),
        (
            "tencent",
            "hunyuan-turbos-latest",
            {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46},
            (12, 0, 0, 34),
        ),
    ],
)
def test_compatible_vendors_json_and_stream(
    upstream: FakeUpstream,
    openai_client: openai.OpenAI,
    ledger: Ledger,
    provider: str,
    model: str,
    usage: dict[str, Any],
    expected: tuple[int, int, int, int],
) -> None:
    upstream.route("/chat/completions", chat_route(usage))
    client = llmledger.instrument(openai_client, ledger=ledger, provider=provider)

    client.chat.completions.create(model=model, messages=MESSAGES)
    chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True))

    assert all(chunk.choices for chunk in chunks)
    events = recorded(ledger)
    assert len(events) == 2
    for event in events:
        got = (event.input_tokens, event.cache_read_tokens, event.cache_write_tokens)
        assert (*got, event.output_tokens) == expected
        assert event.provider == provider and event.model == model and not event.estimated


def test_include_usage_false_never_adds_the_option(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger, include_usage=False)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert "stream_options" not in upstream.requests[-1].body
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello there!"
    event = only(ledger)
    assert event.estimated and event.details is not None
    assert event.details["stream_end"] == "complete"

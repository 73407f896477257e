"""Attribution across concurrent work: four models streamed at once from asyncio tasks (the
seed app's example) and from a thread pool, each call recorded separately with its own counts
and the attribution of the code that made it."""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import openai

import llmledger
from llmledger import Ledger
from llmledger.capture.context import bind
from tests.capture import wire
from tests.capture.conftest import recorded
from tests.capture.fake_upstream import FakeUpstream, Reply, Request

EXAMPLE = Path(__file__).parents[2] / "examples" / "concurrent_models.py"
PIECES = ["one ", "two ", "three ", "four"]

# Every model reports different counts, so a call recorded under the wrong model shows.
USAGE = {
    "qwen/qwen-plus": {"prompt_tokens": 11, "completion_tokens": 101, "total_tokens": 112},
    "deepseek/deepseek-chat": {
        "prompt_tokens": 22,
        "completion_tokens": 202,
        "total_tokens": 224,
        "prompt_cache_hit_tokens": 20,
        "prompt_cache_miss_tokens": 2,
    },
    "moonshotai/kimi-k2": {"prompt_tokens": 33, "completion_tokens": 303, "total_tokens": 336},
    "openai/gpt-4o-mini": {"prompt_tokens": 44, "completion_tokens": 404, "total_tokens": 448},
}
KIMI = "moonshotai/kimi-k2"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("concurrent_models", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def concurrent_route(upstream: FakeUpstream, parties: int) -> None:
    """Answers only once ``parties`` requests are in flight together (a barrier: calls made
    one after another fail the test), then interleaves the streams frame by frame."""
    barrier = threading.Barrier(parties, timeout=10)

    def respond(request: Request) -> Reply:
        barrier.wait()
        model = request.model or "?"
        frames = wire.chat_chunks(
            model,
            PIECES,
            USAGE[model],
            include_usage=request.include_usage,
            usage_in_choice=model == KIMI,  # Kimi puts its usage inside the last choice
        )
        return Reply(frames=frames, delay=0.002)

    upstream.route("/chat/completions", respond)


def assert_one_event_per_model(ledger: Ledger, user_id: str, session_id: str) -> None:
    events = recorded(ledger)
    assert len(events) == 4
    by_model = {e.model: e for e in events}
    assert set(by_model) == set(USAGE)
    for model, usage in USAGE.items():
        event = by_model[model]
        prompt, hit = usage["prompt_tokens"], usage.get("prompt_cache_hit_tokens", 0)
        assert (event.input_tokens, event.cache_read_tokens, event.output_tokens) == (
            prompt - hit,
            hit,
            usage["completion_tokens"],
        )
        assert (event.user_id, event.session_id) == (user_id, session_id)
        assert event.tags == (model,) and not event.estimated and event.success


def test_the_example_streams_four_models_concurrently(
    upstream: FakeUpstream, async_openai_client: openai.AsyncOpenAI, ledger: Ledger
) -> None:
    concurrent_route(upstream, parties=4)
    example = load_example()
    client = llmledger.instrument(async_openai_client, ledger=ledger)

    async def main() -> dict[str, str]:
        async with client:
            return await example.compare(client, "Count", user_id="u42", session_id="s42")  # type: ignore[no-any-return]

    answers = asyncio.run(main())

    assert answers == {model: "one two three four" for model in USAGE}
    assert all(r.include_usage for r in upstream.requests)
    assert_one_event_per_model(ledger, "u42", "s42")
    for event in recorded(ledger):
        assert event.request_type == "compare"


def test_two_users_in_concurrent_tasks_never_mix(
    upstream: FakeUpstream, async_openai_client: openai.AsyncOpenAI, ledger: Ledger
) -> None:
    concurrent_route(upstream, parties=4)
    example = load_example()
    client = llmledger.instrument(async_openai_client, ledger=ledger, org_id="acme")
    models = tuple(USAGE)

    async def main() -> None:
        async with client:
            await asyncio.gather(
                example.compare(client, "a", models=models[:2], user_id="alice", session_id="a"),
                example.compare(client, "b", models=models[2:], user_id="bob", session_id="b"),
            )

    asyncio.run(main())
    owners = {e.model: (e.user_id, e.session_id, e.org_id) for e in recorded(ledger)}
    assert owners == {
        models[0]: ("alice", "a", "acme"),
        models[1]: ("alice", "a", "acme"),
        models[2]: ("bob", "b", "acme"),
        models[3]: ("bob", "b", "acme"),
    }


def test_threads_carry_attribution_with_bind_or_copy_context(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    concurrent_route(upstream, parties=4)
    client = llmledger.instrument(openai_client, ledger=ledger)

    def stream(model: str) -> str:
        with llmledger.attribute(tags=[model]):
            chunks = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Count"}], stream=True
            )
            return "".join(c.choices[0].delta.content or "" for c in chunks)

    with llmledger.attribute(user_id="u7", session_id="s7"), ThreadPoolExecutor(4) as pool:
        models = list(USAGE)
        futures = [pool.submit(bind(stream), m) for m in models[:2]]
        futures += [pool.submit(contextvars.copy_context().run, stream, m) for m in models[2:]]
        answers = [f.result() for f in futures]

    assert answers == ["one two three four"] * 4
    assert_one_event_per_model(ledger, "u7", "s7")


def test_a_plain_thread_starts_without_the_callers_attribution(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route(
        "/chat/completions",
        lambda r: Reply(json=wire.chat_completion(r.model or "?", "hi", USAGE[KIMI])),
    )
    client = llmledger.instrument(openai_client, ledger=ledger, user_id="default-user")

    def call() -> Any:
        return client.chat.completions.create(model=KIMI, messages=[])

    with llmledger.attribute(user_id="inner"):
        thread = threading.Thread(target=call)
        thread.start()
        thread.join()
        call()
    users = sorted(e.user_id or "" for e in recorded(ledger))
    assert users == ["default-user", "inner"]

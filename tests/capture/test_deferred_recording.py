"""Finished calls are read on the ledger's background writer, off the app's thread: the app's
thread only claims the call and queues it. Ledgers without a writer get the event built at once."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import openai
import pytest

import llmledger
from llmledger import Ledger, UsageEvent
from llmledger.capture import record
from tests.capture import wire
from tests.capture.fake_upstream import FakeUpstream, Reply, Request

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def chat(upstream: FakeUpstream) -> None:
    def respond(request: Request) -> Reply:
        if request.body.get("stream"):
            frames = wire.chat_chunks(
                request.model or "?", ["Hi"], wire.OPENAI_CHAT_USAGE, include_usage=True
            )
            return Reply(frames=frames)
        return Reply(json=wire.chat_completion(request.model or "?", "Hi", wire.OPENAI_CHAT_USAGE))

    upstream.route("/chat/completions", respond)


@pytest.fixture
def built_on(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the threads events were built on."""
    threads: list[str] = []
    build = record.build_event

    def spy(**kwargs: Any) -> UsageEvent:
        threads.append(threading.current_thread().name)
        return build(**kwargs)

    monkeypatch.setattr(record, "build_event", spy)
    return threads


@pytest.mark.usefixtures("chat")
def test_complete_calls_are_built_on_the_writer(
    openai_client: openai.OpenAI, ledger: Ledger, built_on: list[str]
) -> None:
    client = llmledger.instrument(openai_client, ledger=ledger)
    with llmledger.attribute(user_id="u1"):
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert ledger.flush(10)
    assert built_on == ["llmledger-writer", "llmledger-writer"]
    events = list(ledger.events())
    assert [e.user_id for e in events] == ["u1", "u1"]  # the call's attribution, not the writer's
    assert {e.total_tokens for e in events} == {173}


class ListLedger:
    """A ledger without a background writer: takes events as they come."""

    def __init__(self) -> None:
        self.events: list[UsageEvent] = []

    def submit(self, event: UsageEvent) -> Future[None]:
        self.events.append(event)
        future: Future[None] = Future()
        future.set_result(None)
        return future


@pytest.mark.usefixtures("chat")
def test_a_ledger_without_writer_gets_the_event_at_once(
    openai_client: openai.OpenAI, built_on: list[str]
) -> None:
    sink: Any = ListLedger()
    client = llmledger.instrument(openai_client, ledger=sink, user_id="u2")
    for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
        pass
    assert built_on == [threading.current_thread().name]
    assert [(e.user_id, e.total_tokens) for e in sink.events] == [("u2", 173)]


@pytest.mark.usefixtures("chat")
def test_an_event_that_cannot_be_built_is_logged_not_raised(
    openai_client: openai.OpenAI,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**kwargs: Any) -> UsageEvent:
        raise RuntimeError("boom")

    monkeypatch.setattr(record, "build_event", broken)
    client = llmledger.instrument(openai_client, ledger=ledger)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    # The app still gets its whole stream: role, "Hi", stop (the usage chunk llmledger asked
    # for is not the app's).
    assert [c.choices[0].delta.content for c in chunks] == ["", "Hi", None]
    assert ledger.flush(10)
    assert list(ledger.events()) == []
    assert "could not read the usage of a chat call" in caplog.text
    assert ledger.writer.failed == 0  # nothing reached the write

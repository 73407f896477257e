"""Ledger writes never slow or break the app: recording happens on the ledger's writer thread,
and a ledger that cannot take the event leaves the call succeeding, with an ERROR log line and a
counter (never a debug message)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import openai
import pytest

import llmledger
from llmledger import Ledger, UsageEvent
from llmledger.capture import record
from llmledger.errors import StoreError
from tests.capture import wire
from tests.capture.conftest import only
from tests.capture.fake_upstream import FakeUpstream, Reply
from tests.capture.test_openai_sdk import MESSAGES, chat_route


@pytest.fixture
def stats() -> record.CaptureStats:
    before = record.stats.dropped
    yield record.stats
    assert record.stats.dropped >= before


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_recording_waits_for_no_database_write(
    upstream: FakeUpstream,
    openai_client: openai.OpenAI,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The call returns while the writer is still blocked: the write is off the app's path."""
    release = threading.Event()
    writer_threads: list[str] = []
    write = ledger._write_batch

    def slow_write(events: Sequence[UsageEvent]) -> None:
        writer_threads.append(threading.current_thread().name)
        release.wait(10)
        write(events)

    monkeypatch.setattr(ledger, "_write_batch", slow_write)
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger)

    for _ in range(3):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))

    assert ledger.get("x") is None and list(ledger.events()) == []  # nothing written yet
    release.set()
    assert ledger.flush(10)
    assert len(list(ledger.events())) == 6
    assert set(writer_threads) == {"llmledger-writer"}


def test_a_ledger_that_fails_to_write_leaves_the_call_working(
    upstream: FakeUpstream,
    openai_client: openai.OpenAI,
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger)
    ledger.store.close()  # the database went away

    reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))

    assert reply.choices[0].message.content == "Hello there!" and len(chunks) == 6
    assert ledger.flush(10)
    assert ledger.writer.failed == 2
    assert isinstance(ledger.writer.last_error, StoreError)
    assert re.search("closed database|ledger .* is closed", str(ledger.writer.last_error))
    assert any("could not record" in message for message in errors(caplog))


def test_a_closed_ledger_is_counted_and_logged(
    upstream: FakeUpstream,
    openai_client: openai.OpenAI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    stats: record.CaptureStats,
) -> None:
    upstream.route("/chat/completions", chat_route())
    closed = Ledger(tmp_path / "closed.db")
    closed.record(model="gpt-4o", input_tokens=1)  # open, used, then closed by the app
    closed.close()
    client = llmledger.instrument(openai_client, ledger=closed)
    dropped = stats.dropped

    reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert reply.usage is not None and reply.usage.total_tokens == 173
    assert closed.flush(10)
    # Counted once: by capture if the ledger refused the event, else by its writer.
    assert (stats.dropped - dropped) + closed.writer.failed == 1
    assert any("could not record" in m for m in errors(caplog))


def test_an_unopenable_default_ledger_never_breaks_calls(
    upstream: FakeUpstream,
    openai_client: openai.OpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    stats: record.CaptureStats,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LLMLEDGER_DB", str(blocker / "ledger.db"))
    monkeypatch.setenv("LLMLEDGER_HOME", str(tmp_path / "home"))
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client)  # the default ledger, opened on first use
    dropped = stats.dropped

    for _ in range(2):
        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert reply.choices[0].message.content == "Hello there!"

    assert stats.dropped == dropped + 2
    assert len([m for m in errors(caplog) if "could not record usage" in m]) == 2


def test_unreadable_usage_is_estimated_not_raised(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    body = wire.chat_completion("gpt-4o", "hi", None)
    body["usage"] = {"prompt_tokens": "lots", "completion_tokens": -5, "total_tokens": None}
    upstream.route("/chat/completions", Reply(json=body))
    client = llmledger.instrument(openai_client, ledger=ledger)
    reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert reply.choices[0].message.content == "hi"
    event = only(ledger)
    # No usable count: estimated like a stream without usage ("Say hello" is 9 tokens with the
    # chat framing, "hi" one), never a negative or a crash.
    assert (event.input_tokens, event.output_tokens, event.estimated) == (9, 1, True)
    assert event.details == {"api": "chat", "estimator": "o200k_base"}

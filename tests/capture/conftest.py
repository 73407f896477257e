"""Fixtures for capture tests: the fake upstream on loopback, a real SQLite ledger per test, and
real SDK clients pointed at the fake upstream."""

from __future__ import annotations

import gc
import socket
from collections.abc import Iterator

import anthropic
import openai
import pytest

from llmledger import Ledger, PriceBook, UsageEvent
from llmledger.default import set_default_ledger
from tests.capture.fake_upstream import FakeUpstream


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Capture is tested against servers on 127.0.0.1 only; anything else fails the test."""
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"network access attempted: {address!r}")
        return connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def _server() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(_server: FakeUpstream) -> Iterator[FakeUpstream]:
    _server.reset()
    yield _server
    _server.reset()


@pytest.fixture(scope="session")
def prices() -> PriceBook:
    return PriceBook.default(None)


@pytest.fixture
def ledger(ledger_url: str, prices: PriceBook) -> Iterator[Ledger]:
    book = Ledger(ledger_url, prices=prices)
    yield book
    gc.collect()  # streams a test dropped are recorded now, into this ledger
    book.close()


@pytest.fixture(autouse=True)
def _no_default_ledger() -> Iterator[None]:
    previous = set_default_ledger(None)
    yield
    set_default_ledger(previous)


def needs(sdk_object: object, *names: str) -> None:
    """Skip the test when the installed SDK release predates an API it calls (CI runs the
    floor releases too): ``needs(client, "responses")``, ``needs(client.chat.completions,
    "stream")``."""
    for name in names:
        if not hasattr(sdk_object, name):
            module = type(sdk_object).__module__.partition(".")[0]
            version = getattr(__import__(module), "__version__", "?")
            pytest.skip(f"{module} {version} has no {type(sdk_object).__name__}.{name}")
        sdk_object = getattr(sdk_object, name)


def recorded(ledger: Ledger) -> list[UsageEvent]:
    """Everything the ledger holds once the writer caught up, oldest first."""
    assert ledger.flush(10)
    return sorted(ledger.events(), key=lambda e: (e.ts, e.id))


def only(ledger: Ledger) -> UsageEvent:
    events = recorded(ledger)
    assert len(events) == 1, events
    return events[0]


def tokens(event: UsageEvent) -> dict[str, int]:
    return {
        "input": event.input_tokens,
        "cache_read": event.cache_read_tokens,
        "cache_write": event.cache_write_tokens,
        "cache_write_1h": event.cache_write_1h_tokens,
        "output": event.output_tokens,
        "reasoning": event.reasoning_tokens,
    }


@pytest.fixture
def openai_client(upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=upstream.url + "/v1", max_retries=0)


@pytest.fixture
def async_openai_client(upstream: FakeUpstream) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=upstream.url + "/v1", max_retries=0)


@pytest.fixture
def anthropic_client(upstream: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=upstream.url, max_retries=0)


@pytest.fixture
def async_anthropic_client(upstream: FakeUpstream) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=upstream.url, max_retries=0)

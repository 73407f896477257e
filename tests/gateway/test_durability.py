"""The guarantees only a real process shows: a client that leaves mid-stream is still metered,
``kill -9`` under concurrent load loses no completed request's usage, and SIGTERM finishes the
streams in flight and flushes the ledger before exiting."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.gateway.conftest import (
    GatewayProcess,
    event_tokens,
    standard_config,
    tagged,
    wait_for,
)
from tests.gateway.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]


def client_for(gateway: GatewayProcess, key: str, tag: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=key,
        max_retries=0,
        timeout=30,
        default_headers={"x-test-tag": tag},
    )


@pytest.fixture
def own_gateway(fake: FakeUpstream, tmp_path: Path) -> Iterator[GatewayProcess]:
    """A gateway of this test's own, free to be killed."""
    process = GatewayProcess(tmp_path / "gw", standard_config(fake.port, tmp_path / "gw"))
    yield process.start()
    if process.proc is not None and process.proc.poll() is None:
        process.kill9()


def test_client_disconnect_mid_stream_still_records_the_reported_usage(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    tag = uuid.uuid4().hex[:12]
    key, key_id = gateway.create_key("leaver")
    stream = client_for(gateway, key, tag).chat.completions.create(
        model="slow-gpt", messages=MESSAGES, stream=True
    )
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()  # the client hangs up after 3 of ~40 chunks
    (event,) = wait_for(lambda: gateway.events(api_key_id=key_id))
    (served,) = tagged(fake, tag)
    assert served["include_usage"] is True
    # The gateway read the upstream to its end: the usage is the provider's, not a guess.
    assert event_tokens(event) == served["expected"]
    assert (event.status, event.estimated) == ("499", False)
    assert (event.details or {})["client_disconnected"] is True


def test_client_disconnect_from_a_stalled_stream_is_estimated_and_flagged(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    tag = uuid.uuid4().hex[:12]
    key, key_id = gateway.create_key("impatient")
    closed_before = fake.closed_streams
    stream = client_for(gateway, key, tag).chat.completions.create(
        model="stall-gpt", messages=MESSAGES, stream=True
    )
    for i, _ in enumerate(stream):
        if i == 1:
            break
    stream.close()
    # No usage ever comes: after drain_timeout the gateway estimates, flags, and lets go.
    (event,) = wait_for(lambda: gateway.events(api_key_id=key_id))
    assert (event.status, event.estimated, event.success) == ("499", True, False)
    # The request is 17 tokens in the chat framing; "Hello from" came before the stall.
    assert (event.input_tokens, event.output_tokens) == (17, 2)
    assert (event.cost_status, event.cost_nanos) == ("unpriced", None)  # never a silent $0
    wait_for(lambda: fake.closed_streams > closed_before)  # the upstream stream was closed


def _one(client: openai.OpenAI, i: int) -> tuple[str, str]:
    """One request of three kinds; (kind, response id) once its response is COMPLETE."""
    if i % 3 == 0:
        chunks = list(
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        )
        return "stream", chunks[0].id
    if i % 3 == 1:
        return "json", client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).id
    with client.responses.stream(model="o3-mini", input="hi") as events:
        return "responses", events.get_final_response().id


def _load(
    gateway: GatewayProcess,
    key: str,
    tag: str,
    done: list[tuple[str, str]],
    failures: list[BaseException],
    killing: threading.Event,
) -> None:
    """Requests in a loop until the gateway is killed; ``done`` gets the complete ones."""
    client = client_for(gateway, key, tag)
    i = 0
    while not killing.is_set():
        i += 1
        try:
            done.append(_one(client, i))
        except Exception as exc:
            if not killing.is_set():
                failures.append(exc)  # a real failure, not the kill
            return


def test_kill_9_under_concurrent_load_loses_no_completed_request(
    own_gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    tag = uuid.uuid4().hex[:12]
    key, key_id = own_gateway.create_key("load")
    # The SDK builds its response parsers lazily, and not thread-safely: build them first.
    client = client_for(own_gateway, key, tag)
    done = [_one(client, i) for i in range(3)]
    failures: list[BaseException] = []
    for round_ in range(3):  # kill, restart on the same ledger, kill again
        if round_:
            own_gateway.start()
        killing = threading.Event()
        workers = [
            threading.Thread(
                target=_load, args=(own_gateway, key, tag, done, failures, killing), daemon=True
            )
            for _ in range(12)
        ]
        for worker in workers:
            worker.start()
        target = len(done) + 150
        wait_for(lambda: len(done) >= target or failures, timeout=60)  # noqa: B023
        assert failures == []
        killing.set()  # from now on, errors are the kill's (sockets close before the reaping)
        own_gateway.kill9()  # SIGKILL while requests are in flight
        for worker in workers:
            worker.join(30)
    completed = list(done)
    assert {kind for kind, _ in completed} == {"stream", "json", "responses"}

    events = own_gateway.events(api_key_id=key_id)
    recorded = {(e.details or {}).get("response_id"): e for e in events}
    served = {s["response_id"]: s for s in tagged(fake, tag) if "response_id" in s}
    missing = [rid for _, rid in completed if rid not in recorded]
    assert missing == [], f"{len(missing)} completed responses lost their usage"
    for _, rid in completed:
        assert event_tokens(recorded[rid]) == served[rid]["expected"]
    # Nothing recorded twice, nothing recorded that the upstream did not serve.
    assert len(recorded) == len(events)
    assert set(recorded) <= set(served)


def test_sigterm_finishes_streams_in_flight_and_flushes(
    own_gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    tag = uuid.uuid4().hex[:12]
    key, key_id = own_gateway.create_key("graceful")
    client = client_for(own_gateway, key, tag)
    chunks: list[Any] = []
    stream = client.chat.completions.create(model="slow-gpt", messages=MESSAGES, stream=True)
    iterator = iter(stream)
    chunks.append(next(iterator))
    assert own_gateway.proc is not None
    own_gateway.proc.send_signal(signal.SIGTERM)
    chunks.extend(iterator)  # the stream in flight runs to its end
    assert len(chunks) == 42  # role chunk, 40 words, finish chunk
    assert own_gateway.stop(timeout=30) == 0
    stderr = "".join(own_gateway.stderr)
    assert "shutting down" in stderr and "Traceback" not in stderr
    (event,) = own_gateway.events(api_key_id=key_id)
    (served,) = tagged(fake, tag)
    assert event_tokens(event) == served["expected"] and event.status == "200"

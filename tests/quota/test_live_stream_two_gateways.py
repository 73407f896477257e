"""Two ``llmledger serve`` processes on one SQLite ledger: a user's meter stream on one of them
gets an update after a request the OTHER served (its CounterWatch reads the month counters
every 0.5 s while someone listens), and exactly one per request it served itself."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.gateway.conftest import GatewayProcess
from tests.gateway.quota_fixtures import (
    REQUEST_TOKENS,
    FixedUsageUpstream,
    chat,
    quota_config,
    start_gateway,
)

PLANS = f"""
[plans.hobby]
tokens = {100 * REQUEST_TOKENS}
"""


@pytest.fixture
def pair(fixed: FixedUsageUpstream, tmp_path: Path) -> Iterator[list[GatewayProcess]]:
    shared = tmp_path / "shared.db"
    started: list[GatewayProcess] = []
    try:
        for name in ("a", "b"):
            config = quota_config(fixed.port, tmp_path / name, plans=PLANS)
            started.append(start_gateway(tmp_path / name, config, shared))
        yield started
    finally:
        for process in started:
            process.stop()


def _usage(lines: Iterator[str]) -> Iterator[int | None]:
    """The ``used`` of each ``usage`` event of an SSE stream; None for each comment."""
    name, data = "message", ""
    for line in lines:
        if line.startswith(":"):
            yield None
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif line == "" and data:
            if name == "usage":
                yield int(json.loads(data)["summary"]["used"])
            name, data = "message", ""


def test_a_request_served_by_the_other_gateway_reaches_the_stream(
    pair: list[GatewayProcess],
) -> None:
    listening, serving = pair
    key, _ = listening.create_key("watched")
    auth = {"authorization": f"Bearer {key}"}
    with (
        httpx2.Client(base_url=listening.url, timeout=10) as listener,
        httpx2.Client(base_url=serving.url, timeout=10) as other,
        listener.stream("GET", "/api/account/usage/stream", headers=auth) as stream,
    ):
        assert stream.status_code == 200
        updates = _usage(stream.iter_lines())
        assert next(updates) == 0
        sent_at: list[float] = []

        def request(client: httpx2.Client) -> None:
            time.sleep(0.3)
            assert chat(client, key, "two-gateways").status_code == 200
            sent_at.append(time.monotonic())

        worker = threading.Thread(target=request, args=(other,))
        worker.start()
        used = next(u for u in updates if u is not None)
        worker.join()
        assert used == REQUEST_TOKENS  # the other process's request, on this stream
        assert time.monotonic() - sent_at[0] < 1.5  # polled every 0.5 s

        # A request this process served itself is on the stream once, not twice.
        worker = threading.Thread(target=request, args=(listener,))
        worker.start()
        assert next(u for u in updates if u is not None) == 2 * REQUEST_TOKENS
        worker.join()
        quiet = [next(updates) for _ in range(3)]  # 1.5 s of keep-alives (every 0.5 s)
        assert quiet == [None, None, None]

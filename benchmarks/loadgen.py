"""The load of the gateway benchmarks: keep-alive HTTP/1.1 clients (one connection per
concurrent client, httptools parsing responses) sending the same chat request to a target, and
what one run of them measured (``Cell``). Used by bench_gateway.py and bench_quotas.py."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httptools
import msgspec

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]


@dataclass
class Cell:
    run: int
    mode: str
    concurrency: int
    target: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    ttfb_p50_ms: float | None
    ttfb_p99_ms: float | None
    cpu_us: float | None  # CPU time of the target's process per measured request


@dataclass
class Target:
    name: str
    base_url: str
    path: str
    key: str
    pid: int | None = None  # the process serving it (the fake upstream for direct)


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process and its threads so far (None where there is no
    /proc): a figure the other jobs on a shared machine disturb far less than throughput."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- load ----------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class _Client(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: send a request, wait for the whole response."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[int] | None = None
        self.first: float | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("closed"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.done is not None and not self.done.done():
                self.done.set_exception(exc)

    def on_body(self, body: bytes) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    async def request(self, raw: bytes, timeout: float) -> tuple[int, float | None]:
        assert self.transport is not None
        self.first = None
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        status = await asyncio.wait_for(self.done, timeout)
        return status, self.first


async def _connect(host: str, port: int) -> _Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(_Client, host, port)
    return client


async def run_cell(
    target: Target,
    stream: bool,
    concurrency: int,
    requests: int,
    warmup: int,
    duration: float | None,
    run: int,
) -> Cell:
    host, port = target.base_url.removeprefix("http://").rsplit(":", 1)
    payload: dict[str, object] = {"model": MODEL, "messages": MESSAGES, "max_tokens": 16}
    if stream:
        payload["stream"] = True
    body = msgspec.json.encode(payload)
    raw = (
        f"POST {target.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {target.key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    ttfbs: list[float] = []
    errors = 0

    async def worker(budget: list[int], deadline: float | None, measure: bool) -> None:
        nonlocal errors
        client = await _connect(host, int(port))
        try:
            while budget[0] > 0 and (deadline is None or time.perf_counter() < deadline):
                budget[0] -= 1
                if client.closed:
                    client = await _connect(host, int(port))
                started = time.perf_counter()
                try:
                    status, first = await client.request(raw, 60)
                except (OSError, asyncio.TimeoutError, httptools.HttpParserError):
                    status, first = 0, None
                finished = time.perf_counter()
                if not measure:
                    continue
                if status != 200:
                    errors += 1
                    continue
                latencies.append(finished - started)
                if stream and first is not None:
                    ttfbs.append(first - started)
        finally:
            if client.transport is not None:
                client.transport.close()

    async def phase(total: int, deadline: float | None, measure: bool) -> None:
        budget = [total]
        await asyncio.gather(*(worker(budget, deadline, measure) for _ in range(concurrency)))

    await phase(warmup, None, False)  # opens the connections, warms caches
    cpu_before = cpu_seconds(target.pid)
    start = time.perf_counter()
    if duration is None:
        await phase(requests, None, True)
    else:
        await phase(1 << 60, start + duration, True)
    seconds = time.perf_counter() - start
    cpu_after = cpu_seconds(target.pid)
    count = len(latencies)
    cpu_us = None
    if cpu_before is not None and cpu_after is not None and count + errors:
        cpu_us = round((cpu_after - cpu_before) / (count + errors) * 1e6, 1)
    return Cell(
        run=run,
        mode="stream" if stream else "json",
        concurrency=concurrency,
        target=target.name,
        requests=count,
        errors=errors,
        seconds=round(seconds, 3),
        rps=round(count / seconds, 1) if seconds else 0.0,
        p50_ms=round(_percentile(latencies, 0.5) * 1000, 3) if latencies else float("nan"),
        p99_ms=round(_percentile(latencies, 0.99) * 1000, 3) if latencies else float("nan"),
        ttfb_p50_ms=round(_percentile(ttfbs, 0.5) * 1000, 3) if ttfbs else None,
        ttfb_p99_ms=round(_percentile(ttfbs, 0.99) * 1000, 3) if ttfbs else None,
        cpu_us=cpu_us,
    )


# -- report --------------------------------------------------------------------------------------

"""Benchmark SDK capture: what ``llmledger.instrument`` adds to each call of a real ``openai``
client, against a fake provider on loopback, in ONE run so both sides share the machine's state.

    python benchmarks/bench_capture.py                     # 10,000 JSON + 2,000 streamed calls
    python benchmarks/bench_capture.py --calls 2000 --streams 500 --chunks 20

The fake provider runs in its own process (asyncio, pre-rendered replies, keep-alive) so its
CPU time is not charged to the client. Plain and instrumented calls alternate, each pair in a
random order, so drifts of a noisy machine hit both alike. Instrumented calls record into a real
SQLite ledger through the ledger's background writer (building the event from what capture
kept, pricing and SQL run on that thread, in this process). Before every call of that duel the
benchmark waits, untimed, for the writer to go idle: otherwise the writer's work for one call
lands on the next call, the plain one three times in four, and flatters capture (it made the
added time negative once capture handed event building to the writer). The writer's own time
per call is reported next to the duel. Streams honour
``stream_options.include_usage`` like the real API, so instrumented streams carry the extra
usage chunk capture asks for (and hides).

Two duels per kind, each ``plain`` (no capture) against one instrumented side, calls
alternating in random order: ``sdk+null`` (events built on the app's thread, as for a ledger
without a background writer, then dropped: all of capture's own work, with no writer thread
running) and ``sdk+ledger`` (recording into the SQLite ledger: what the app's thread pays).
Reported per duel: median per-call latency of both, the added time as the difference of the
medians and as the median of per-round differences, and p90s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

MODEL = "gpt-4o-mini"
PLACEHOLDER = b"XXXXXXXXXX"  # every reply gets a unique id of the same length
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]
USAGE = {
    "prompt_tokens": 125,
    "completion_tokens": 48,
    "total_tokens": 173,
    "prompt_tokens_details": {"cached_tokens": 98, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}

# -- the fake provider (its own process) -----------------------------------------------------


def _completion() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-XXXXXXXXXX",
            "object": "chat.completion",
            "created": 1_760_000_000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello there, friend!"},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    ).encode()


def _stream(chunks: int, include_usage: bool) -> bytes:
    base = {
        "id": "chatcmpl-XXXXXXXXXX",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
    }
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    events = []
    for i in range(chunks):
        delta = {"role": "assistant", "content": ""} if i == 0 else {"content": f"word{i} "}
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        events.append({**base, "choices": [choice], **extra})
    events.append(
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], **extra}
    )
    if include_usage:
        events.append({**base, "choices": [], "usage": USAGE})
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return body + b"data: [DONE]\n\n"


def _http(body: bytes, content_type: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n" % (
        content_type,
        len(body),
    )
    return head + body


def _serve(port: int, chunks: int, ready: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    ids = (b"%010d" % n for n in itertools.count())
    replies = {
        "json": _http(_completion(), b"application/json"),
        "stream": _http(_stream(chunks, False), b"text/event-stream"),
        "stream+usage": _http(_stream(chunks, True), b"text/event-stream"),
    }

    class Provider(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                head, sep, rest = self.buffer.partition(b"\r\n\r\n")
                if not sep:
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(rest) < length:
                    return
                body, self.buffer = rest[:length], rest[length:]
                if b'"stream":true' not in body.replace(b" ", b""):
                    kind = "json"
                elif b'"include_usage":true' in body.replace(b" ", b""):
                    kind = "stream+usage"
                else:
                    kind = "stream"
                self.transport.write(replies[kind].replace(PLACEHOLDER, next(ids)))

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Provider, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- measuring ---------------------------------------------------------------------------------


def _rounds(
    sides: dict[str, Callable[[], object]],
    count: int,
    seed: int,
    settle: Callable[[], object] | None = None,
) -> dict[str, list[float]]:
    """``count`` rounds; each round calls every side once, in a fresh random order.

    ``settle`` (untimed) runs before every call: waiting for the ledger's writer to go idle,
    so the writer's work for one call is never charged to the next one (which is the plain
    side three times in four). Its durations after each side's calls are returned under
    ``"<side>/settle"``: the writer's time per call, off the app's path.
    """
    rng = random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in sides}
    settled: dict[str, list[float]] = {f"{name}/settle": [] for name in sides}
    order = list(sides.items())
    clock = time.perf_counter
    last: str | None = None
    for _ in range(count):
        rng.shuffle(order)
        for name, fn in order:
            if settle is not None:
                start = clock()
                settle()
                if last is not None:
                    settled[f"{last}/settle"].append((clock() - start) * 1e6)
            start = clock()
            fn()
            times[name].append((clock() - start) * 1e6)
            last = name
    if settle is not None:
        times.update(settled)
    return times


def _summary(kind: str, times: dict[str, list[float]]) -> list[dict[str, Any]]:
    def p90(values: list[float]) -> float:
        return statistics.quantiles(values, n=10)[-1]

    plain = times["plain"]
    rows = []
    for side, values in times.items():
        if side == "plain" or "/" in side:
            continue
        row = {
            "kind": kind,
            "side": side,
            "calls": len(values),
            "plain_median_us": statistics.median(plain),
            "instrumented_median_us": statistics.median(values),
            "added_median_us": statistics.median(values) - statistics.median(plain),
            "added_pairwise_median_us": statistics.median([b - a for a, b in zip(plain, values)]),
            "plain_p90_us": p90(plain),
            "instrumented_p90_us": p90(values),
        }
        settled = times.get(f"{side}/settle")
        if settled:
            row["writer_median_us"] = statistics.median(settled)
            row["plain_settle_median_us"] = statistics.median(times["plain/settle"])
        rows.append(row)
    return rows


class _NullLedger:
    """Takes events and drops them: isolates the capture path from the ledger's writes."""

    def submit(self, event: object) -> Future[None]:
        future: Future[None] = Future()
        future.set_result(None)
        return future


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def run(calls: int, streams: int, chunks: int, warmup: int) -> list[dict[str, Any]]:
    import openai

    import llmledger

    port = _free_port()
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    server = spawn.Process(target=_serve, args=(port, chunks, ready), daemon=True)
    server.start()
    if not ready.wait(30):
        raise RuntimeError("the fake provider did not start")
    base_url = f"http://127.0.0.1:{port}/v1"
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        ledger = llmledger.Ledger(Path(tmp) / "bench.db")
        ledger.prices  # noqa: B018 - load the price book before measuring

        def make() -> openai.OpenAI:
            return openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)

        null: Any = _NullLedger()
        clients = {
            "plain": make(),
            "sdk+ledger": llmledger.instrument(make(), ledger=ledger, user_id="bench"),
            "sdk+null": llmledger.instrument(make(), ledger=null, user_id="bench"),
        }
        time.sleep(3)  # the offline tokenizer loads in the background once: let it finish

        def call(client: openai.OpenAI) -> Callable[[], object]:
            return lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES)

        def stream(client: openai.OpenAI) -> Callable[[], object]:
            def run_stream() -> object:
                text = []
                for chunk in client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, stream=True
                ):
                    text.append(chunk.choices[0].delta.content or "")
                return text

            return run_stream

        json_calls = {name: call(client) for name, client in clients.items()}
        stream_calls = {name: stream(client) for name, client in clients.items()}

        def duel(
            calls: dict[str, Callable[[], object]], side: str
        ) -> dict[str, Callable[[], object]]:
            return {"plain": calls["plain"], side: calls[side]}

        with llmledger.attribute(session_id="bench", request_type="benchmark"):
            for side in ("sdk+null", "sdk+ledger"):
                _rounds(duel(json_calls, side), warmup // 2, seed=1)
                _rounds(duel(stream_calls, side), warmup // 2, seed=2)
            # Each instrumented side against plain on its own: the ledger's writer thread
            # (which also takes the GIL) never runs during the capture-only duel.
            for side in ("sdk+null", "sdk+ledger"):
                ledger.flush()
                settle = ledger.flush if side == "sdk+ledger" else None
                results += _summary(
                    "json", _rounds(duel(json_calls, side), calls, seed=3, settle=settle)
                )
            for side in ("sdk+null", "sdk+ledger"):
                ledger.flush()
                settle = ledger.flush if side == "sdk+ledger" else None
                results += _summary(
                    "stream", _rounds(duel(stream_calls, side), streams, seed=4, settle=settle)
                )
        assert ledger.flush(60)
        recorded = sum(1 for _ in ledger.events())
        ledger.close()
    server.terminate()
    server.join(5)
    expected = 2 * (warmup // 2) + calls + streams
    if recorded != expected:
        raise RuntimeError(f"the ledger holds {recorded} events, expected {expected}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000, help="non-streaming calls per side")
    parser.add_argument("--streams", type=int, default=2_000, help="streamed calls per side")
    parser.add_argument("--chunks", type=int, default=20, help="content chunks per stream")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = run(args.calls, args.streams, args.chunks, args.warmup)
    print(f"machine: {_machine()}")
    written = 2 * (args.warmup // 2) + args.calls + args.streams
    print(f"ledger events written by sdk+ledger: {written} (all checked)")
    print(
        f"{'kind':<8}{'side':<12}{'calls':>7}{'plain p50':>12}{'instr p50':>12}"
        f"{'added p50':>12}{'pairwise':>11}{'plain p90':>12}{'instr p90':>12}"
    )
    for r in results:
        print(
            f"{r['kind']:<8}{r['side']:<12}{r['calls']:>7}{r['plain_median_us']:>10.1f}us"
            f"{r['instrumented_median_us']:>10.1f}us{r['added_median_us']:>10.1f}us"
            f"{r['added_pairwise_median_us']:>9.1f}us{r['plain_p90_us']:>10.1f}us"
            f"{r['instrumented_p90_us']:>10.1f}us"
        )
    for r in results:
        if "writer_median_us" in r:
            print(
                f"{r['kind']} {r['side']}: the ledger's writer (off the app's path, waited for "
                f"between calls) took {r['writer_median_us']:.1f}us per instrumented call at the "
                f"median ({r['plain_settle_median_us']:.1f}us to find it idle after a plain call)"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

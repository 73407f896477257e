"""A fake LLM provider on loopback speaking the exact OpenAI and Anthropic wire formats.

Serves ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/responses``,
``/v1/embeddings``, ``/v1/messages`` (JSON and SSE) and ``GET /v1/models``. Every request gets
different, deterministic usage; ``log`` keeps what each request asked and the usage the fake
reported, both raw and in the ledger's terms (``expected``), so tests can compare totals.

Behaviour switches, so tests need no extra endpoints:

* API key ``sk-fail-<status>`` (e.g. ``sk-fail-429``): answer that error status;
* model ``slow-…``: 40 stream events, 25 ms apart; ``stall-…``: 3 events, then silence;
* model ``limited-…``: 429 (``Retry-After: 3600``) for the key ``sk-good-a``, served for others;
* model ``early-…``: a ``103 Early Hints`` head before the real one;
* model ``garbage-…``: 200 with a body that is not JSON; ``cut-…``: 200 whose body stops
  half-way (the connection closes); ``drop-…``: the connection closes without an answer;
* ``stream_options.include_usage`` is honoured exactly as OpenAI does.

Its HTTP layer is its own (httptools + asyncio), independent of the gateway's. Run it alone with
``python fake_upstream.py [--port N]``: it prints ``PORT <n>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import struct
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httptools
import msgspec

_encode = msgspec.json.encode
_WORDS = ["Hello", " from", " the", " fake", " upstream", "!", " Tokens", " are", " counted", "."]


class FakeUpstream:
    def __init__(self, *, record: bool = True) -> None:
        self.record = record
        self.log: list[dict[str, Any]] = []
        self.counter = itertools.count(1)
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self.open_streams = 0
        self.closed_streams = 0

    # -- running -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(lambda: _Conn(self), host, port, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def start_in_thread(self) -> int:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.port

    def stop(self) -> None:
        if self.loop is not None and self._server is not None:
            self.loop.call_soon_threadsafe(self._server.close)
            self.loop.call_soon_threadsafe(self.loop.stop)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def entries(self, **match: Any) -> list[dict[str, Any]]:
        return [e for e in list(self.log) if all(e.get(k) == v for k, v in match.items())]

    # -- responses -----------------------------------------------------------------------------

    def handle(
        self,
        conn: _Conn,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        query: str = "",
    ):
        n = next(self.counter)
        if method == "GET" and path == "/v1/models":
            return conn.json(200, _models())
        if method != "POST":
            return conn.json(405, {"error": {"message": "method not allowed", "type": "invalid"}})
        anthropic = path == "/v1/messages"
        key = headers.get("x-api-key") if anthropic else headers.get("authorization", "")[7:]
        if not key:
            return conn.json(401, _error(anthropic, "authentication_error", "no API key"))
        if key.startswith("sk-fail-"):
            status = int(key.removeprefix("sk-fail-")[:3])
            extra = [("retry-after", "0")] if status == 429 else []
            entry = {"path": path, "key": key, "status": status, "headers": headers}
            if self.record:
                self.log.append(entry)
            kind = "rate_limit_error" if status == 429 else "api_error"
            return conn.json(status, _error(anthropic, kind, f"fake failure {status}"), extra)
        try:
            request = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return conn.json(400, _error(anthropic, "invalid_request_error", "bad JSON"))
        model = request.get("model", "unknown")
        stream = request.get("stream") is True
        entry: dict[str, Any] = {
            "n": n,
            "path": path,
            "query": query,
            "key": key,
            "model": model,
            "stream": stream,
            "request": request,
            "headers": headers,
            "status": 200,
        }
        if self.record:
            self.log.append(entry)
        if model.startswith("limited-") and key == "sk-good-a":
            entry["status"] = 429
            error = _error(anthropic, "rate_limit_error", "fake rate limit for this model")
            return conn.json(429, error, [("retry-after", "3600")])
        if model.startswith("early-"):  # JSON only: the final head comes 50 ms later
            conn.transport.write(
                b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
            )
            answer = (conn, n, model, request, False, entry)
            asyncio.get_running_loop().call_later(0.05, lambda: self._chat(*answer))
            return None
        if model.startswith("garbage-"):
            entry["status"] = "garbage"
            return conn.raw(200, b"<html>upstream proxy error page, not JSON {")
        elif model.startswith("cut-"):
            entry["status"] = "cut"
            return conn.raw(
                200, b'{"id": "cut", "choices": [{"message": {"content": "Hello th', 400
            )
        elif model.startswith("drop-"):
            entry["status"] = "dropped"
            conn.transport.close()
            return None
        handler = {
            "/v1/chat/completions": self._chat,
            "/v1/completions": self._completions,
            "/v1/responses": self._responses,
            "/v1/embeddings": self._embeddings,
            "/v1/messages": self._messages,
        }.get(path)
        if handler is None:
            return conn.json(404, {"error": {"message": f"no route {path}", "type": "invalid"}})
        return handler(conn, n, model, request, stream, entry)

    # OpenAI chat

    def _openai_usage(self, n: int, entry: dict[str, Any]) -> dict[str, Any]:
        prompt, cached = 20 + n % 17, (n % 3) * 4
        completion, reasoning = 5 + n % 11, n % 2
        entry["expected"] = {
            "input_tokens": prompt - cached,
            "cache_read_tokens": cached,
            "cache_write_tokens": 0,
            "cache_write_1h_tokens": 0,
            "output_tokens": completion,
            "reasoning_tokens": reasoning,
        }
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        entry["usage"] = usage
        return usage

    def _chat(self, conn, n, model, request, stream, entry):
        rid = f"chatcmpl-fake{n}"
        entry["response_id"] = rid
        created = int(time.time())
        usage = self._openai_usage(n, entry)
        words = _words(model)
        if not stream:
            return conn.json(
                200,
                {
                    "id": rid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": "".join(words),
                                "refusal": None,
                                "annotations": [],
                            },
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                    "service_tier": "default",
                    "system_fingerprint": "fp_fake",
                },
            )
        options = request.get("stream_options") or {}
        with_usage = options.get("include_usage") is True
        entry["include_usage"] = with_usage

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            data: dict[str, Any] = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if with_usage:
                data["usage"] = None
            return b"data: " + _encode(data) + b"\n\n"

        def events() -> Iterator[bytes]:
            yield chunk({"role": "assistant", "content": "", "refusal": None}, None)
            for word in words:
                yield chunk({"content": word}, None)
            yield chunk({}, "stop")
            if with_usage:
                final = {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage,
                }
                yield b"data: " + _encode(final) + b"\n\n"
            yield b"data: [DONE]\n\n"

        return conn.sse(events(), model, self)

    def _completions(self, conn, n, model, request, stream, entry):
        rid = f"cmpl-fake{n}"
        entry["response_id"] = rid
        usage = self._openai_usage(n, entry)
        words = _words(model)
        base = {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model}
        if not stream:
            choice = {"text": "".join(words), "index": 0, "logprobs": None, "finish_reason": "stop"}
            return conn.json(200, {**base, "choices": [choice], "usage": usage})
        with_usage = (request.get("stream_options") or {}).get("include_usage") is True
        entry["include_usage"] = with_usage

        def events() -> Iterator[bytes]:
            for i, word in enumerate(words):
                finish = "stop" if i == len(words) - 1 else None
                choice = {"text": word, "index": 0, "logprobs": None, "finish_reason": finish}
                data: dict[str, Any] = {**base, "choices": [choice]}
                if with_usage:
                    data["usage"] = None
                yield b"data: " + _encode(data) + b"\n\n"
            if with_usage:
                yield b"data: " + _encode({**base, "choices": [], "usage": usage}) + b"\n\n"
            yield b"data: [DONE]\n\n"

        return conn.sse(events(), model, self)

    # OpenAI responses

    def _responses(self, conn, n, model, request, stream, entry):
        rid = f"resp_fake{n}"
        entry["response_id"] = rid
        total_in, cached = 30 + n % 19, (n % 4) * 5
        out, reasoning = 9 + n % 7, n % 3
        entry["expected"] = {
            "input_tokens": total_in - cached,
            "cache_read_tokens": cached,
            "cache_write_tokens": 0,
            "cache_write_1h_tokens": 0,
            "output_tokens": out,
            "reasoning_tokens": reasoning,
        }
        usage = {
            "input_tokens": total_in,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": total_in + out,
        }
        entry["usage"] = usage
        words = _words(model)
        text = "".join(words)

        def response(status: str, with_output: bool, with_usage: bool) -> dict[str, Any]:
            message = {
                "type": "message",
                "id": f"msg_fake{n}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
            return {
                "id": rid,
                "object": "response",
                "created_at": int(time.time()),
                "status": status,
                "error": None,
                "incomplete_details": None,
                "instructions": None,
                "model": model,
                "output": [message] if with_output else [],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "temperature": 1.0,
                "top_p": 1.0,
                "usage": usage if with_usage else None,
            }

        if not stream:
            return conn.json(200, response("completed", True, True))

        def events() -> Iterator[bytes]:
            seq = itertools.count()

            def event(kind: str, data: dict[str, Any]) -> bytes:
                payload = {"type": kind, "sequence_number": next(seq), **data}
                return f"event: {kind}\n".encode() + b"data: " + _encode(payload) + b"\n\n"

            item_id = f"msg_fake{n}"
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            item = {
                "type": "message",
                "id": item_id,
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            where = {"item_id": item_id, "output_index": 0, "content_index": 0}
            yield event("response.created", {"response": response("in_progress", False, False)})
            yield event("response.in_progress", {"response": response("in_progress", False, False)})
            yield event("response.output_item.added", {"output_index": 0, "item": item})
            yield event("response.content_part.added", {**where, "part": part})
            for word in words:
                yield event("response.output_text.delta", {**where, "delta": word, "logprobs": []})
            yield event("response.output_text.done", {**where, "text": text, "logprobs": []})
            yield event("response.content_part.done", {**where, "part": {**part, "text": text}})
            done_item = {**item, "status": "completed", "content": [{**part, "text": text}]}
            yield event("response.output_item.done", {"output_index": 0, "item": done_item})
            yield event("response.completed", {"response": response("completed", True, True)})

        return conn.sse(events(), model, self)

    # OpenAI embeddings

    def _embeddings(self, conn, n, model, request, stream, entry):
        tokens = 8 + n % 13
        entry["expected"] = {
            "input_tokens": tokens,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cache_write_1h_tokens": 0,
            "output_tokens": 0,
            "reasoning_tokens": 0,
        }
        entry["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        inputs = request.get("input")
        count = (
            len(inputs) if isinstance(inputs, list) and inputs and isinstance(inputs[0], str) else 1
        )
        vector = [0.25, -0.5, 0.125, 1.0]
        if request.get("encoding_format") == "base64":
            encoded: Any = base64.b64encode(struct.pack("<4f", *vector)).decode()
        else:
            encoded = vector
        data = [{"object": "embedding", "index": i, "embedding": encoded} for i in range(count)]
        return conn.json(
            200, {"object": "list", "data": data, "model": model, "usage": entry["usage"]}
        )

    # Anthropic messages

    def _messages(self, conn, n, model, request, stream, entry):
        rid = f"msg_fake{n}"
        entry["response_id"] = rid
        fresh, read = 10 + n % 13, (n % 5) * 3
        five, hour = (n % 4) * 8, (n % 2) * 16
        out = 7 + n % 9
        entry["expected"] = {
            "input_tokens": fresh,
            "cache_read_tokens": read,
            "cache_write_tokens": five,
            "cache_write_1h_tokens": hour,
            "output_tokens": out,
            "reasoning_tokens": 0,
        }

        def usage(output: int) -> dict[str, Any]:
            return {
                "input_tokens": fresh,
                "cache_creation_input_tokens": five + hour,
                "cache_read_input_tokens": read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": five,
                    "ephemeral_1h_input_tokens": hour,
                },
                "output_tokens": output,
                "service_tier": "standard",
            }

        entry["usage"] = usage(out)
        words = _words(model)
        if not stream:
            return conn.json(
                200,
                {
                    "id": rid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": "".join(words)}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage(out),
                },
            )

        def event(kind: str, data: dict[str, Any]) -> bytes:
            return (
                f"event: {kind}\n".encode() + b"data: " + _encode({"type": kind, **data}) + b"\n\n"
            )

        def events() -> Iterator[bytes]:
            message = {
                "id": rid,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage(1),
            }
            yield event("message_start", {"message": message})
            yield event(
                "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
            )
            yield event("ping", {})
            for word in words:
                yield event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": word}},
                )
            yield event("content_block_stop", {"index": 0})
            yield event(
                "message_delta",
                {
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {
                        "input_tokens": fresh,
                        "cache_creation_input_tokens": five + hour,
                        "cache_read_input_tokens": read,
                        "output_tokens": out,
                    },
                },
            )
            yield event("message_stop", {})

        return conn.sse(events(), model, self)


def _words(model: str) -> list[str]:
    return _WORDS * 4 if model.startswith("slow-") else list(_WORDS)


def _error(anthropic: bool, kind: str, message: str) -> dict[str, Any]:
    if anthropic:
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _models() -> dict[str, Any]:
    names = ["gpt-4o-mini", "gpt-4o", "o3-mini", "text-embedding-3-small", "dall-e-3"]
    data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in names]
    return {"object": "list", "data": data}


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
}


class _Conn(asyncio.Protocol):
    """Server side of one connection of the fake upstream."""

    def __init__(self, fake: FakeUpstream) -> None:
        self.fake = fake
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.busy: asyncio.Task[None] | None = None
        self.pending: list[tuple[str, str, dict[str, str], bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode()
        url = self.url.decode()
        if url.startswith("http://"):  # absolute form, as sent through an HTTP proxy
            url = "/" + url.split("/", 3)[3]
        path, _, query = url.partition("?")
        result = self.fake.handle(self, method, path, self.headers, b"".join(self.body), query)
        if asyncio.iscoroutine(result):
            self.busy = asyncio.get_running_loop().create_task(result)

    def json(self, status: int, data: Any, extra: list[tuple[str, str]] | None = None) -> None:
        body = _encode(data)
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            "x-request-id: req_fake",
            "openai-processing-ms: 1",
            "set-cookie: __cf_bm=fake-session; Path=/; HttpOnly",  # as a real API edge sets one
        ]
        head += [f"{k}: {v}" for k, v in extra or []]
        if not self.closed:
            self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def raw(self, status: int, body: bytes, length: int | None = None) -> None:
        """A JSON-typed answer with any body; ``length`` > len(body): cut, then closed."""
        head = (
            f"HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\n"
            f"content-length: {length or len(body)}\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        if length is not None:
            self.transport.close()

    async def sse(self, events: Iterator[bytes], model: str, fake: FakeUpstream) -> None:
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            "transfer-encoding: chunked\r\ncache-control: no-cache\r\n"
            "x-request-id: req_fake\r\n\r\n"
        )
        fake.open_streams += 1
        try:
            self.transport.write(head.encode())
            slow, stall = model.startswith("slow-"), model.startswith("stall-")
            for i, event in enumerate(events):
                if self.closed:
                    return
                if stall and i == 3:
                    while not self.closed:
                        await asyncio.sleep(0.05)
                    return
                self.transport.write(b"%x\r\n%b\r\n" % (len(event), event))
                if slow:
                    await asyncio.sleep(0.025)
            if not self.closed:
                self.transport.write(b"0\r\n\r\n")
        finally:
            fake.closed_streams += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def run() -> None:
        fake = FakeUpstream(record=not args.no_record)
        port = await fake.start(port=args.port)
        print(f"PORT {port}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

"""UsageMiddleware on Gemini-shaped responses (``usageMetadata``), JSON and SSE, driven in
process as a plain ASGI app (no server needed: the middleware only wraps ``send``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from llmledger import Ledger
from llmledger.capture.middleware import UsageMiddleware
from tests.capture.conftest import only, tokens

USAGE = {
    "promptTokenCount": 100,
    "cachedContentTokenCount": 40,
    "candidatesTokenCount": 20,
    "thoughtsTokenCount": 5,
    "totalTokenCount": 125,
}
EXPECTED = {
    "input": 60,  # prompt includes the cached part
    "cache_read": 40,
    "cache_write": 0,
    "cache_write_1h": 0,
    "output": 25,  # thoughts are outside candidates
    "reasoning": 5,
}
MODEL = "gemini-2.5-flash"


def candidate(text: str, finish: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        out["finishReason"] = finish
    return out


def asgi_app(content_type: bytes, bodies: list[bytes]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, body in enumerate(bodies):
            more = i < len(bodies) - 1
            await send({"type": "http.response.body", "body": body, "more_body": more})

    return app


def call(app: Any, path: str) -> list[bytes]:
    """One POST through ``app``; returns the response bodies it sent, in order."""
    sent: list[bytes] = []
    request = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": request, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"x-user", b"u-7")],
    }
    asyncio.run(app(scope, receive, send))
    return sent


def test_gemini_json_usage_metadata_is_recorded(ledger: Ledger) -> None:
    body = json.dumps(
        {
            "candidates": [candidate("Hello there!", "STOP")],
            "usageMetadata": USAGE,
            "modelVersion": MODEL,
            "responseId": "gem-json-1",
        }
    ).encode()
    app = UsageMiddleware(
        asgi_app(b"application/json", [body]), ledger=ledger, user_header="x-user"
    )
    assert call(app, "/api/gemini") == [body]
    ledger.flush()
    event = only(ledger)
    assert tokens(event) == EXPECTED and not event.estimated
    assert event.user_id == "u-7" and event.source == "middleware"


def test_gemini_sse_keeps_the_last_usage_metadata(ledger: Ledger) -> None:
    partial = {**USAGE, "candidatesTokenCount": 3, "totalTokenCount": 103}
    events = [
        {"candidates": [candidate("Hel")], "usageMetadata": partial, "modelVersion": MODEL},
        {"candidates": [candidate("lo there!")], "usageMetadata": partial, "modelVersion": MODEL},
        {"candidates": [candidate("", "STOP")], "usageMetadata": USAGE, "modelVersion": MODEL},
    ]
    bodies = [b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events]
    app = UsageMiddleware(asgi_app(b"text/event-stream", bodies), ledger=ledger)
    assert call(app, "/api/gemini") == bodies  # passed through chunk by chunk, unchanged
    ledger.flush()
    event = only(ledger)
    assert tokens(event) == EXPECTED and not event.estimated
    assert event.details is not None and event.details["stream_end"] == "complete"

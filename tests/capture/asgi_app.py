"""A small Starlette app that returns LLM output the ways real apps do, behind UsageMiddleware,
served by uvicorn on 127.0.0.1 in a thread. Its upstream is the fake provider."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from llmledger.capture.middleware import UsageMiddleware

GATE_TIMEOUT = 10.0


class Gates:
    """``/api/gated`` sends its first event, then waits for the test to open the gate: a
    middleware that buffered the stream would never let the test see that first event."""

    def __init__(self) -> None:
        self.opened = threading.Event()


def build_app(upstream_url: str, gates: Gates) -> Starlette:
    oai = openai.AsyncOpenAI(api_key="sk-app", base_url=upstream_url + "/v1", max_retries=0)
    claude = anthropic.AsyncAnthropic(api_key="sk-ant-app", base_url=upstream_url, max_retries=0)

    def authenticate(request: Request) -> None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token:
            request.state.user_id = f"user-{token}"
            request.state.tags = ["authenticated"]

    async def chat(request: Request) -> Response:
        """OpenAI chat, JSON or re-encoded SSE chunks (what many apps do)."""
        authenticate(request)
        body = await request.json()
        if not body.get("stream"):
            completion = await oai.chat.completions.create(**body)
            return JSONResponse(completion.model_dump(exclude_unset=True))
        stream = await oai.chat.completions.create(**body)

        async def events() -> AsyncIterator[str]:
            async for chunk in stream:
                yield f"data: {chunk.model_dump_json(exclude_unset=True)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def messages(request: Request) -> Response:
        """Anthropic messages, the provider's SSE bytes relayed as they come."""
        authenticate(request)
        body = await request.json()
        raw = claude.messages.with_streaming_response.create(**body)

        async def relay() -> AsyncIterator[bytes]:
            async with raw as response:
                async for piece in response.iter_bytes():
                    yield piece

        return StreamingResponse(relay(), media_type="text/event-stream")

    async def gated(request: Request) -> Response:
        body = await request.json()
        stream = await oai.chat.completions.create(**body)

        async def events() -> AsyncIterator[str]:
            first = True
            async for chunk in stream:
                yield f"data: {chunk.model_dump_json(exclude_unset=True)}\n\n"
                if first:
                    first = False
                    if not await asyncio.to_thread(gates.opened.wait, GATE_TIMEOUT):
                        yield 'data: {"error": "the first event never reached the client"}\n\n'

        return StreamingResponse(events(), media_type="text/event-stream")

    async def plain(request: Request) -> Response:
        return JSONResponse({"answer": 42, "model": "none"})

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def fail(request: Request) -> Response:
        raise RuntimeError("the app broke")

    return Starlette(
        routes=[
            Route("/api/chat", chat, methods=["POST"]),
            Route("/api/messages", messages, methods=["POST"]),
            Route("/api/gated", gated, methods=["POST"]),
            Route("/api/plain", plain, methods=["POST"]),
            Route("/api/fail", fail, methods=["POST"]),
            Route("/outside/chat", chat, methods=["POST"]),
            Route("/health", health),
        ],
        middleware=[
            Middleware(
                UsageMiddleware,  # type: ignore[arg-type]
                paths=["/api"],
                user_header="x-user-id",
                headers={"x-session": "session_id"},
                project="asgi-app",
            )
        ],
    )


class AppServer:
    """uvicorn serving ``app`` on a loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> AppServer:
        self.thread.start()
        for _ in range(1000):
            if self.server.started:
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

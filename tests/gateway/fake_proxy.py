"""A forwarding HTTP proxy on loopback that records the request lines it was asked to carry
(absolute-form ``POST http://host:port/path HTTP/1.1``), for the ``HTTP_PROXY`` tests."""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import urlsplit


class FakeProxy:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start_in_thread(self) -> FakeProxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def begin() -> None:
                server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
                self.port = server.sockets[0].getsockname()[1]
                ready.set()

            loop.run_until_complete(begin())
            loop.run_forever()

        threading.Thread(target=run, name="fake-proxy", daemon=True).start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode()
        self.requests.append(line)
        target = urlsplit(line.split()[1])
        up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
        up_writer.write(head)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

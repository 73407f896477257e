"""Running the gateway: startup checks, the event loop, the listening socket, shutdown.

Everything that can fail because of the operator (config, database, port) fails before the
loop starts, as a ``LedgerError`` the CLI prints as one line. SIGTERM / SIGINT stop accepting,
let in-flight requests and streams finish (up to ``shutdown_timeout``), close idle keep-alive
connections, then flush the ledger's writer.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import sys
from dataclasses import dataclass, replace

from llmledger.config import Config
from llmledger.errors import ConfigError, LedgerError
from llmledger.gateway.accesslog import AccessLog
from llmledger.gateway.app import Gateway
from llmledger.gateway.config import GatewayConfig, parse_gateway_config
from llmledger.gateway.http import HTTPConnection, Limits
from llmledger.ledger import Ledger

__all__ = ["ServeOptions", "serve"]

log = logging.getLogger("llmledger.gateway")
_SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class ServeOptions:
    host: str | None = None
    port: int | None = None


def load_gateway_config(config: Config, options: ServeOptions) -> GatewayConfig:
    gateway = parse_gateway_config(config.raw)
    if not gateway.upstreams:
        where = f" in {config.path}" if config.path else " (no config file found)"
        raise ConfigError(
            f"upstreams: no [[upstreams]] configured{where}; add one (see 'llmledger serve --help')"
        )
    settings = gateway.settings
    if options.host is not None:
        settings = replace(settings, host=options.host)
    if options.port is not None:
        settings = replace(settings, port=options.port)
    return replace(gateway, settings=settings)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or one clear error (port in use, bad address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise LedgerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise LedgerError(
                f"cannot listen on {host}:{port}: the port is already in use; "
                "stop the other process or pick another --port"
            ) from None
        raise LedgerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def _use_uvloop() -> bool:
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def serve(ledger: Ledger, options: ServeOptions) -> int:
    """Run the gateway until SIGTERM/SIGINT; returns the exit code."""
    gateway_config = load_gateway_config(ledger.config, options)
    settings = gateway_config.settings
    access_log = AccessLog(settings.access_log)
    gateway = Gateway(gateway_config, ledger, access_log)
    gateway.prepare()
    sock = bind(settings.host, settings.port)
    uv = _use_uvloop()
    try:
        asyncio.run(_run(gateway, sock, uv))
    finally:
        access_log.close()
        ledger.close()
    return 0


async def _run(gateway: Gateway, sock: socket.socket, uv: bool) -> None:
    loop = asyncio.get_running_loop()
    settings = gateway.settings
    limits = Limits(
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_body_bytes,
        request_timeout=settings.request_timeout,
        idle_timeout=settings.idle_timeout,
    )
    connections: set[HTTPConnection] = set()
    await gateway.start()
    server = await loop.create_server(
        lambda: HTTPConnection(gateway.handle, limits, connections), sock=sock, backlog=2048
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    names = ", ".join(u.name for u in gateway.router.upstreams)
    sys.stderr.write(
        f"llmledger gateway listening on http://{shown}:{port} "
        f"(upstreams: {names}; ledger: {gateway.ledger.url}; {'uvloop' if uv else 'asyncio'})\n"
    )
    sys.stderr.flush()
    sweeper = loop.create_task(_sweep(connections, stop))
    await stop.wait()
    sys.stderr.write("llmledger gateway: shutting down, finishing in-flight requests\n")
    sys.stderr.flush()
    server.close()
    deadline = loop.time() + settings.shutdown_timeout
    while loop.time() < deadline:
        for conn in list(connections):
            if conn.idle:
                conn.close()
        if not connections and gateway.in_flight == 0:
            break
        await asyncio.sleep(0.05)
    for conn in list(connections):
        conn.abort()
    sweeper.cancel()
    await gateway.close()
    if not gateway.ledger.flush(timeout=settings.shutdown_timeout):
        log.error("gateway: the ledger writer did not finish in time")


async def _sweep(connections: set[HTTPConnection], stop: asyncio.Event) -> None:
    """Close connections past their deadline: slow requests (408) and idle keep-alives."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        await asyncio.sleep(_SWEEP_SECONDS)
        now = loop.time()
        for conn in list(connections):
            if conn.deadline and now > conn.deadline:
                conn.expire()

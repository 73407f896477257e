"""``llmledger serve``: the gateway's app under uvicorn (httptools and uvloop where available).

Everything that can fail because of the operator (config, database, port) fails before the
server starts, as a ``LedgerError`` the CLI prints as one line. At start the open-file limit
is raised to its hard limit and the connection cap derived from it. SIGTERM / SIGINT stop
accepting, let in-flight requests and streams finish (up to ``shutdown_timeout``), close idle
keep-alive connections, then flush the ledger's writer; the exit status is 0.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import sys
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn

from llmledger.errors import LedgerError
from llmledger.gateway.app import create_app, load_gateway_config
from llmledger.gateway.config import GatewayConfig
from llmledger.gateway.state import Gateway
from llmledger.ledger import Ledger

__all__ = ["ServeOptions", "connection_cap", "raise_open_file_limit", "serve"]

log = logging.getLogger("llmledger.gateway")
_FILE_LIMIT_CEILING = 1 << 20
_RESERVED_FILES = 64  # the ledger, logs, the price list, worker threads' files


@dataclass(frozen=True)
class ServeOptions:
    host: str | None = None
    port: int | None = None


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
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
        sock.listen(backlog)
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


def raise_open_file_limit() -> int | None:
    """Raise the soft open-file limit to the hard one; the limit now in force (None: no
    such limit on this platform)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _FILE_LIMIT_CEILING if hard == resource.RLIM_INFINITY else hard
    target = min(target, _FILE_LIMIT_CEILING)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("gateway: cannot raise the open-file limit from %d: %s", soft, exc)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(config: GatewayConfig, file_limit: int | None) -> int:
    """``max_connections`` if set, else what the open-file limit leaves after the upstream
    pools and the gateway's own files."""
    if config.settings.max_connections is not None:
        return config.settings.max_connections
    if file_limit is None:
        return 10_000
    upstream = sum(u.max_connections for u in config.upstreams)
    return max(file_limit - upstream - _RESERVED_FILES, 16)


class _QuietAborts(logging.Filter):
    """A stream left unfinished on purpose (cut upstream, unrecorded usage) is not an error
    of the app: the gateway has logged and recorded it already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, gateway: Gateway, banner: str) -> None:
        super().__init__(config)
        self.gateway = gateway
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            sys.stderr.write(self.banner + "\n")
            sys.stderr.flush()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            sys.stderr.write("llmledger gateway: shutting down, finishing in-flight requests\n")
            sys.stderr.flush()
        super().handle_exit(sig, frame)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """uvicorn raises the signal it caught again once it has shut down; by then the
    shutdown it asked for is done."""


def serve(ledger: Ledger, options: ServeOptions) -> int:
    """Run the gateway until SIGTERM/SIGINT; returns the exit code."""
    config = load_gateway_config(ledger.config, host=options.host, port=options.port)
    settings = config.settings
    app = create_app(config, ledger)
    gateway: Gateway = app.state.gateway
    gateway.prepare()
    cap = connection_cap(config, raise_open_file_limit())
    sock = bind(settings.host, settings.port, settings.backlog)
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    kwargs: dict[str, Any] = {}
    try:
        from llmledger.gateway.protocol import Limits, protocol_class

        kwargs["http"] = protocol_class(
            Limits(cap, settings.max_header_bytes, settings.request_timeout)
        )
    except ImportError:  # no httptools: uvicorn's h11 protocol, with its own limits
        kwargs.update(
            http="h11",
            limit_concurrency=cap,
            h11_max_incomplete_event_size=settings.max_header_bytes,
        )
    uconfig = uvicorn.Config(
        app,
        loop=loop,
        ws="none",
        lifespan="on",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=int(max(settings.idle_timeout, 1)),
        timeout_graceful_shutdown=int(max(settings.shutdown_timeout, 1)),
        backlog=settings.backlog,
        **kwargs,
    )
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    names = ", ".join(u.name for u in config.upstreams)
    banner = (
        f"llmledger gateway listening on http://{shown}:{port} (upstreams: {names}; "
        f"ledger: {ledger.url}; {loop}; up to {cap} connections)"
    )
    logging.getLogger("uvicorn.error").addFilter(_QuietAborts())
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _ignore)
    server = _Server(uconfig, gateway, banner)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0

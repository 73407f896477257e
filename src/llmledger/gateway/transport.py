"""The upstream transport seam: one request goes out, one response comes back.

Every call the gateway makes to a provider goes through ``Transport.send``. The one
implementation, ``AiohttpTransport`` (``aiohttp_transport.py``), pools keep-alive connections
with a cap per upstream, verifies TLS, applies connect and read timeouts and honours
``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``; tests swap in a fake.

The errors say whether the request may have reached the upstream, which decides failover:

    TransportError
    ├── ConnectError      nothing was sent (refused, connect timeout, TLS, proxy): try another
    └── UpstreamError     the request may have been received and billed: never sent again
        └── UpstreamTimeout   the upstream stopped answering within its timeout
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "ConnectError",
    "Transport",
    "TransportError",
    "UpstreamError",
    "UpstreamRequest",
    "UpstreamResponse",
    "UpstreamTimeout",
]


class TransportError(Exception):
    """An upstream call failed; the message never holds a key or a body."""


class ConnectError(TransportError):
    """No byte of the request reached the upstream: safe to try another account."""


class UpstreamError(TransportError):
    """The request may have reached the upstream (and been billed); it is not sent again."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer (or went silent) within its timeout."""


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    upstream: str  # the upstream's name: whose connection pool and limits
    method: str
    url: str  # absolute, query string included
    headers: Sequence[tuple[str, str]]
    body: bytes
    timeout: float  # seconds to wait for each piece of the response


class UpstreamResponse(Protocol):
    """A response whose head arrived (informational ``1xx`` heads are skipped)."""

    status: int
    raw_headers: Sequence[tuple[bytes, bytes]]

    def header(self, name: str) -> str | None:
        """The first value of a header (``name`` lower-case), or None."""

    async def read(self) -> bytes:
        """The whole body; ``UpstreamError`` when it is cut short."""

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body as it arrives; None at its clean end, ``UpstreamError``
        when it is cut, ``UpstreamTimeout`` when the upstream goes silent."""

    @property
    def complete(self) -> bool:
        """The body was read to its clean end."""

    def set_deadline(self, when: float) -> None:
        """Stop waiting at loop time ``when``: reads then fail with ``UpstreamTimeout``."""

    def close(self) -> None:
        """Done with it: the connection is kept for reuse if the body ended cleanly."""


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send a request and wait for the response head. Never resends on its own."""

    async def close(self) -> None:
        """Close every pooled connection."""

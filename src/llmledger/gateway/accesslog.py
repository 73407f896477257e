"""Structured access log: one JSON object per request, never a secret.

Lines are buffered and written every ``flush_interval`` seconds (and at shutdown), so the log
costs one ``write`` per batch, not per request. Records carry ids, never keys: the ledger key
id (``key``), never the key; the account name, never its API key; no request or response bodies.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import IO, Any

import msgspec

from llmledger.errors import ConfigError

__all__ = ["AccessLog"]

_encode = msgspec.json.Encoder().encode


class AccessLog:
    def __init__(self, target: str, flush_interval: float = 0.2) -> None:
        """``target``: ``"-"`` for stderr, ``"off"``, or a file path (appended to)."""
        self.enabled = target != "off"
        self._owned = False
        self._stream: IO[bytes] | None = None
        if target == "-":
            self._stream = sys.stderr.buffer
        elif self.enabled:
            path = Path(target).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = path.open("ab")
            except OSError as exc:
                raise ConfigError(
                    f"gateway.access_log: cannot open {path}: {exc.strerror or exc}"
                ) from exc
            self._owned = True
        self._lines: list[bytes] = []
        self._flush_interval = flush_interval
        self._scheduled = False

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._lines.append(_encode(record) + b"\n")
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self._flush_interval, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._lines or self._stream is None:
            return
        lines, self._lines = self._lines, []
        try:
            self._stream.write(b"".join(lines))
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed or full log must never stop the gateway

    def close(self) -> None:
        self.flush()
        if self._owned and self._stream is not None:
            self._stream.close()
        self._stream = None

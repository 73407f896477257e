"""One Server-Sent Event's data (``SSEEvent``) and tolerant JSON decoding (``decode_json``).

The stream parser that splits a body into events is ``usage.streams.SSEFrames``, the one every
path uses (the gateway, the middleware, capture).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import msgspec

__all__ = ["SSEEvent", "decode_json"]

_EOL = re.compile(r"\r\n|\r|\n")
DONE = "[DONE]"


def decode_json(text: str | bytes) -> object:
    """Parse JSON, returning None for anything malformed (never raises)."""
    try:
        return msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        pass
    try:  # stdlib accepts what msgspec rejects as out of range (1e400, NaN)
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: ``data`` lines joined by newlines, the ``event:`` name if any."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    @property
    def is_done(self) -> bool:
        """The OpenAI-style ``data: [DONE]`` end-of-stream sentinel."""
        return self.data.strip() == DONE

    def json(self) -> object:
        """The data parsed as JSON, or None for ``[DONE]`` and malformed data."""
        return None if self.is_done else decode_json(self.data)

"""Paths for people: ``~`` for the home directory, long ones shortened in the middle."""

from __future__ import annotations

import os
from pathlib import Path


def tilde(path: str | Path, home: Path) -> str:
    """``path`` with the home directory written ``~`` (``~/.codex/sessions``)."""
    text = str(path)
    prefix = str(home).rstrip(os.sep)
    if prefix and (text == prefix or text.startswith(prefix + os.sep)):
        return "~" + text[len(prefix) :]
    return text


def shorten_middle(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, the middle replaced by ``…`` when too long
    (the end of a path says most, so it keeps the larger half)."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    head = (limit - 1) // 2
    tail = limit - 1 - head
    return text[:head] + "…" + text[len(text) - tail :]

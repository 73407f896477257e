"""Agents whose local files keep no token counts: they are listed by ``llmledger sources``
with where their files are and why nothing is read from them, instead of guessing.

An agent module makes one with ``NoTokenCounts`` (and gets no reports flag: it has no events).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from llmledger.sources.base import FileParse, FileSource, SourceFile


class NoTokenCounts(FileSource):
    """An agent found but not read: ``no_token_counts`` says what its files hold instead."""

    shortcut: str | None = None

    def __init__(
        self,
        name: str,
        title: str,
        roots: Callable[[Mapping[str, str]], list[Path]],
        no_token_counts: str,
    ) -> None:
        self.name = name
        self.title = title
        self._roots = roots
        self.no_token_counts = no_token_counts

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return self._roots(env)

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        return iter(())

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        raise OSError(f"{self.title} keeps no token counts on disk: {self.no_token_counts}")


def no_token_counts(source: object) -> str | None:
    """Why ``source`` reads nothing (None for an agent whose logs hold token counts)."""
    reason = getattr(source, "no_token_counts", None)
    return reason if isinstance(reason, str) and reason else None

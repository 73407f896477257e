"""The agent-log sources llmledger knows, by the ``source`` name their events carry."""

from __future__ import annotations

from collections.abc import Iterable

from llmledger.sources import (
    amp,
    claude_code,
    codex,
    copilot_cli,
    droid,
    gemini_cli,
    kimi_cli,
    opencode,
    qwen_code,
    qwen_proxy,
)
from llmledger.sources.base import Source

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        claude_code.SOURCE,
        codex.SOURCE,
        gemini_cli.SOURCE,
        opencode.SOURCE,
        qwen_code.SOURCE,
        amp.SOURCE,
        droid.SOURCE,
        kimi_cli.SOURCE,
        copilot_cli.SOURCE,
        qwen_proxy.SOURCE,
    )
}


def get_source(name: str) -> Source:
    return SOURCES[name]


def select(names: Iterable[str] | None) -> list[Source]:
    """The sources named (unknown names, e.g. ``proxy`` or ``sdk``, are not agent logs and are
    ignored); all of them when ``names`` is empty or None."""
    wanted = [n for n in (names or ()) if n]
    if not wanted:
        return list(SOURCES.values())
    return [SOURCES[n] for n in dict.fromkeys(wanted) if n in SOURCES]

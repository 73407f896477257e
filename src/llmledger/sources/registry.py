"""The agent-log sources llmledger knows, by the ``source`` name their events carry.

Every module of this package that defines ``SOURCE`` is one: adding an agent is adding its
module (its ``shortcut`` becomes the reports' ``--flag``). The modules without one (``base``,
``jsonl``, ``walk``, this one) are what the parsers share.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

import llmledger.sources
from llmledger.sources.base import Source


def _discover() -> dict[str, Source]:
    found: list[Source] = []
    for module in pkgutil.iter_modules(llmledger.sources.__path__):
        loaded = importlib.import_module(f"llmledger.sources.{module.name}")
        source: Source | None = getattr(loaded, "SOURCE", None)
        if source is not None:
            found.append(source)
    return {source.name: source for source in sorted(found, key=lambda s: s.name)}


SOURCES: dict[str, Source] = _discover()


def shortcuts() -> dict[str, str]:
    """Each agent's reports flag (without ``--``) and the source name it stands for."""
    return {s.shortcut: s.name for s in SOURCES.values() if s.shortcut}


def get_source(name: str) -> Source:
    return SOURCES[name]


def select(names: Iterable[str] | None) -> list[Source]:
    """The sources named (unknown names, e.g. ``proxy`` or ``sdk``, are not agent logs and are
    ignored); all of them when ``names`` is empty or None."""
    wanted = [n for n in (names or ()) if n]
    if not wanted:
        return list(SOURCES.values())
    return [SOURCES[n] for n in dict.fromkeys(wanted) if n in SOURCES]

"""The folders the live view watches, and a thread that reports the files changed in them."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Imported with the view, not in the watcher's thread: a change made while the thread was still
# importing (and compiling) it was missed, since nothing watched yet.
from watchfiles import watch

from llmledger.sources.registry import SOURCES

# Sources whose files grow by appended lines: a changed file is filed alone. Others (documents
# re-written whole, databases) are rescanned as a source when one of their files changes.
APPENDED = {"claude-code", "codex"}


@dataclass(frozen=True)
class Change:
    """A file that changed, and the source whose folder it is in."""

    source: str
    path: str


def watched_roots(env: Mapping[str, str]) -> dict[str, str]:
    """Each existing folder an agent keeps its logs in, and the agent (the deepest folder wins
    when one holds another)."""
    roots: dict[str, str] = {}
    for name, source in SOURCES.items():
        for root in source.roots(env):
            folder = root if root.is_dir() else root.parent
            if folder.is_dir():
                roots.setdefault(str(folder), name)
    return roots


def source_of(path: str, roots: Mapping[str, str]) -> str | None:
    inside = [
        (len(root), name)
        for root, name in roots.items()
        if path == root or path.startswith(root + os.sep)
    ]
    return max(inside)[1] if inside else None


def wanted(source: str, path: str) -> bool:
    """Whether a changed path is one the source reads (for the appended kinds)."""
    if source == "codex":
        name = os.path.basename(path)
        return name.startswith("rollout-") and name.endswith(".jsonl")
    return path.endswith(".jsonl") if source == "claude-code" else True


class Watcher(threading.Thread):
    """Puts a ``("changes", [Change, ...])`` on ``out`` for each batch of changes."""

    def __init__(self, roots: Mapping[str, str], out: queue.Queue[tuple[str, object]]) -> None:
        super().__init__(name="llmledger-live-watch", daemon=True)
        self.roots = dict(roots)
        self.out = out
        self.stop = threading.Event()

    def run(self) -> None:
        if not self.roots:
            return
        paths = [Path(root) for root in self.roots]
        # Small debounce and step: a line appended shows within a fraction of a second.
        for batch in watch(
            *paths, stop_event=self.stop, debounce=100, step=50, yield_on_timeout=False
        ):
            changes = []
            for _, path in batch:
                source = source_of(path, self.roots)
                if source is not None and os.path.isfile(path) and wanted(source, path):
                    changes.append(Change(source, path))
            if changes:
                self.out.put(("changes", changes))

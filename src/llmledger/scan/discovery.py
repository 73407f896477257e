"""Looking for one source's logs, and saying where: the files found, the state of each place
looked in, and what could not be read (so no unreadable directory is skipped without a word).

    found = discover(SOURCES["codex"], os.environ)
    found.files        # [SourceFile, ...]
    found.unreadable   # {"/home/me/.codex/sessions": "permission denied"}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

from llmledger.sources.base import Source, SourceFile
from llmledger.sources.walk import check_listable, describe, noting_unreadable

RootState = Literal["found", "missing", "unreadable"]


class Root(msgspec.Struct, frozen=True):
    """A place a source looks in, and what is there."""

    path: Path
    state: RootState
    reason: str | None = None  # why it is unreadable


class Discovery(msgspec.Struct):
    """What looking for one source's logs found."""

    source: str
    files: list[SourceFile]
    unreadable: dict[str, str]  # path -> reason ("permission denied"), in the order met


def discover(source: Source, env: Mapping[str, str]) -> Discovery:
    """Every file ``source`` reads, and every directory (a root or one below) it could not list."""
    with noting_unreadable() as unreadable:
        for root in source.roots(env):
            check_listable(root)
        files = list(source.discover(env))
    return Discovery(source.name, files, unreadable)


def root_state(path: Path) -> Root:
    """Whether ``path`` (a directory or a file a source reads) is there and can be read."""
    try:
        if path.is_dir():
            with os.scandir(path):
                pass
        else:
            os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return Root(path, "missing")
    except OSError as exc:
        return Root(path, "unreadable", describe(exc))
    return Root(path, "found")


def roots(source: Source, env: Mapping[str, str]) -> list[Root]:
    """The places ``source`` looks in, each with its state (cheap: no walk)."""
    return [root_state(path) for path in source.roots(env)]

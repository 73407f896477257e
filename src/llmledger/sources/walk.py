"""Finding log files: a fast recursive directory walk that never raises on unreadable entries."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path


def walk_files(
    root: Path,
    accept: Callable[[str], bool],
    *,
    max_depth: int = 8,
    skip_dir: Callable[[str], bool] | None = None,
) -> Iterator[str]:
    """Paths (str: cheap) of the files under ``root`` whose name passes ``accept``, depth-first,
    sorted per directory.

    Symlinked directories are not followed (no cycles); unreadable directories are skipped.
    """
    stack: list[tuple[str, int]] = [(str(root), 0)]
    while stack:
        directory, depth = stack.pop()
        try:
            with os.scandir(directory) as entries:
                listing = sorted(entries, key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in listing:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < max_depth and not (skip_dir and skip_dir(entry.name)):
                        stack.append((entry.path, depth + 1))
                elif accept(entry.name) and entry.is_file():
                    yield entry.path
            except OSError:
                continue


def existing_dirs(paths: list[Path]) -> list[Path]:
    """The directories among ``paths`` that exist, each real directory once, in order."""
    seen: set[str] = set()
    result = []
    for path in paths:
        try:
            if not path.is_dir():
                continue
            real = os.path.realpath(path)
        except OSError:
            continue
        if real not in seen:
            seen.add(real)
            result.append(path)
    return result

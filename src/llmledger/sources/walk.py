"""Finding log files: a fast recursive directory walk that never raises on unreadable entries,
and a note of every directory it could not list (so a scan can say what it skipped and why).

    with noting_unreadable() as unreadable:   # path -> reason, e.g. "permission denied"
        files = list(source.discover(env))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

# Where walks note what they could not list; None when no one is listening.
_UNREADABLE: ContextVar[dict[str, str] | None] = ContextVar("unreadable", default=None)


def describe(exc: OSError) -> str:
    """An OSError as a short reason for people: "permission denied", "input/output error"."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or type(exc).__name__).lower()


def note_unreadable(path: str | Path, exc: OSError) -> None:
    """Note ``path`` as unreadable for whoever listens (``noting_unreadable``). A path that is
    not there, or not a directory, is not unreadable: there is just nothing to read."""
    found = _UNREADABLE.get()
    if found is None or isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return
    found.setdefault(str(path), describe(exc))


@contextmanager
def noting_unreadable() -> Iterator[dict[str, str]]:
    """Collect, path -> reason, what the walks inside the ``with`` could not list."""
    found: dict[str, str] = {}
    token = _UNREADABLE.set(found)
    try:
        yield found
    finally:
        _UNREADABLE.reset(token)


def check_listable(path: Path) -> bool:
    """Whether ``path`` is a directory this process can list; notes it when it exists but
    cannot be listed (a root whose source would otherwise skip it without a word)."""
    try:
        with os.scandir(path):
            return True
    except OSError as exc:
        note_unreadable(path, exc)
        return False


def walk_files(
    root: Path,
    accept: Callable[[str], bool],
    *,
    max_depth: int = 8,
    skip_dir: Callable[[str], bool] | None = None,
) -> Iterator[str]:
    """Paths (str: cheap) of the files under ``root`` whose name passes ``accept``, depth-first,
    sorted per directory.

    Symlinked directories are not followed (no cycles); unreadable directories are skipped and
    noted (``noting_unreadable``); a missing ``root`` yields nothing.
    """
    stack: list[tuple[str, int]] = [(str(root), 0)]
    while stack:
        directory, depth = stack.pop()
        try:
            with os.scandir(directory) as entries:
                listing = sorted(entries, key=lambda e: e.name, reverse=True)
        except OSError as exc:
            note_unreadable(directory, exc)
            continue
        for entry in listing:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < max_depth and not (skip_dir and skip_dir(entry.name)):
                        stack.append((entry.path, depth + 1))
                elif accept(entry.name) and entry.is_file():
                    yield entry.path
            except OSError as exc:
                note_unreadable(entry.path, exc)
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
        except OSError as exc:
            note_unreadable(path, exc)
            continue
        if real not in seen:
            seen.add(real)
            result.append(path)
    return result

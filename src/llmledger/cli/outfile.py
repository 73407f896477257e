"""Writing a file the user named (``export -o``, ``db backup``): all or nothing, one clear line
when it cannot be written.

The content goes to a temporary file beside the target, renamed over it once complete: an
export cut short by a damaged ledger or a full disk leaves no half file behind, and never half
overwrites a good one. A target that exists and is not a regular file (``/dev/stdout``, a pipe)
is written in place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from llmledger.errors import FileError


def check_target(path: Path, what: str, example: str) -> None:
    """FileError unless ``path`` names a file that could be written (checked before work)."""
    if path.is_dir():
        raise FileError(f"{what} {path} is a directory; name a file in it, e.g. {path / example}")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise FileError(f"cannot write {path}: the directory {parent} does not exist")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A path to write instead of ``path``; renamed to ``path`` when the block succeeds and
    removed when it fails. OSError becomes FileError naming ``path``."""
    if path.exists() and not path.is_file():
        yield path
        return
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as open() would have made it
        os.close(fd)
    except OSError as exc:
        raise FileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as exc:
        raise FileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        with suppress(OSError):
            temporary.unlink()

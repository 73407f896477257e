"""The statusline's files, one set per transcript under ``<data dir>/statusline/``:
``<key>.json`` (what the fast path read: offset, the calls since the snapshot, the latest
official readings), ``<key>.snap.json`` (the ledger's figures, written by ``refresh``) and
``<key>.lock`` (a refresh is running). Each file is written whole and renamed into place, so a
reader never sees half of one."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zlib

# Not ``typing``: the fast path does without importing it (a few ms per call).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATE_VERSION = 1
# A refresh lock older than this is left over from a refresh that died.
LOCK_STALE_SECONDS = 30


def data_home() -> str:
    """``paths.data_dir()`` without importing pathlib and platformdirs on Linux (where it is
    ``$LLMLEDGER_HOME``, else ``$XDG_DATA_HOME/llmledger``, else ``~/.local/share/llmledger``)."""
    home = os.environ.get("LLMLEDGER_HOME")
    if home:
        return os.path.expanduser(home)
    on_linux = sys.platform.startswith("linux")
    if on_linux:
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".local", "share")
        return os.path.join(base, "llmledger")
    from llmledger.paths import data_dir

    return str(data_dir())


def state_dir() -> str:
    return os.path.join(data_home(), "statusline")


def key_for(agent: str, transcript: str) -> str:
    """A file name for a transcript's state (the state names its transcript: a collision
    reads as a new transcript, never as another's figures)."""
    name = f"{agent}\0{transcript}".encode()
    return f"{zlib.crc32(name):08x}{zlib.adler32(name):08x}"


def file_for(key: str, kind: str) -> str:
    """``kind``: "json" (the fast path's state), "snap.json" (the snapshot) or "lock"."""
    return os.path.join(state_dir(), f"{key}.{kind}")


def load(path: str) -> dict[str, Any] | None:
    """A state or snapshot file, None when missing, unreadable or of another version."""
    try:
        with open(path, "rb") as handle:
            value = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or value.get("v") != STATE_VERSION:
        return None
    return value


def save(path: str, value: dict[str, Any]) -> None:
    """Write ``value`` (with the version) whole, then rename it over ``path``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({**value, "v": STATE_VERSION}, handle, separators=(",", ":"))
    os.replace(temporary, path)


def take_lock(path: str, now: float) -> bool:
    """Claim the refresh lock (False: a live refresh holds it)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    for _ in range(2):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return True
        except FileExistsError:
            try:
                if now - os.stat(path).st_mtime < LOCK_STALE_SECONDS:
                    return False
                os.unlink(path)  # left by a refresh that died: take it over
            except FileNotFoundError:
                pass
    return False


def release_lock(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)

"""Which machine an event was recorded on: the ``host`` every event carries.

``LLMLEDGER_HOST``, else the config's ``host``, else this data dir's own id: the machine's
name when the id was first needed plus a random suffix, written once to ``host-id`` in the data
dir and read back ever after. Chosen over the hostname (renamed machines, DHCP names, every
"MacBook-Pro") and over ``/etc/machine-id`` (absent on macOS and Windows, shared by cloned
images and containers); the name part keeps ``--group-by host`` readable, the suffix keeps two
machines of the same name apart. An id that cannot be stored (a read-only data dir) falls back
to the hostname, which is at least the same from run to run.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmledger.paths import data_dir

HOST_ID_FILE = "host-id"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def machine_name() -> str:
    """This machine's short name, reduced to letters, digits, ``-`` and ``_``."""
    name = _NOT_NAME.sub("-", socket.gethostname().split(".")[0]).strip("-")
    return name[:32] or "host"


def stored_host_id(directory: Path) -> str:
    """The id kept in ``directory``, made (once, atomically: two processes agree) if absent."""
    path = directory / HOST_ID_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    except OSError:
        return machine_name()
    candidate = f"{machine_name()}-{secrets.token_hex(4)}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{HOST_ID_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        temporary.write_text(candidate + "\n", encoding="utf-8")
        try:
            os.link(temporary, path)  # fails when another process stored its id first
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
        return path.read_text(encoding="utf-8").strip() or candidate
    except OSError:
        return machine_name()


def resolve_host(env: Mapping[str, str], config_raw: Mapping[str, Any]) -> str:
    """``LLMLEDGER_HOST``, else the config's ``host``, else this data dir's stored id."""
    explicit = env.get("LLMLEDGER_HOST", "").strip()
    if explicit:
        return explicit
    configured = config_raw.get("host")
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    return stored_host_id(data_dir(env))

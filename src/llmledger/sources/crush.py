"""Crush (charmbracelet/crush): no token counts on disk.

Crush keeps each project's sessions in ``<project>/.crush/crush.db`` (SQLite; the data
directory is configurable) and the list of projects in ``projects.json`` in its global data
directory: ``$CRUSH_GLOBAL_DATA``, else ``$XDG_DATA_HOME/crush``, else ``%LOCALAPPDATA%/crush``
(Windows) or ``~/.local/share/crush``. A session row's ``prompt_tokens`` and
``completion_tokens`` are overwritten by every call with that call's prompt (input plus cache
reads) and output (``updateSessionTokenCounters``), so they hold the size of the last request,
not the tokens used; only ``cost`` is summed. Messages carry no usage. Nothing is read.

Verified against charmbracelet/crush @ 37f36e93 (``internal/agent/agent.go``
``updateSessionTokenCounters``, ``internal/db/migrations/20250424200609_initial.sql``,
``internal/config/load.go`` ``GlobalConfigData``, ``internal/projects/projects.go``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from llmledger.sources.base import xdg_dir
from llmledger.sources.no_counts import NoTokenCounts

NAME = "crush"


def global_data_dir(env: Mapping[str, str]) -> Path:
    configured = env.get("CRUSH_GLOBAL_DATA", "").strip()
    if configured:
        return Path(configured).expanduser()
    if not env.get("XDG_DATA_HOME") and env.get("LOCALAPPDATA", "").strip():
        return Path(env["LOCALAPPDATA"]) / "crush"
    return xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "crush"


def _roots(env: Mapping[str, str]) -> list[Path]:
    return [global_data_dir(env) / "projects.json"]


SOURCE = NoTokenCounts(
    NAME,
    "Crush",
    _roots,
    "a session keeps its last request's size and its summed cost, not the tokens used",
)

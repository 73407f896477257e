"""Cursor (the editor): no token counts on disk.

Cursor keeps its chats in the editor's global storage, ``state.vscdb`` (SQLite, table
``cursorDiskKV``: ``composerData:<id>`` and ``bubbleId:<composer>:<bubble>`` JSON values)
under ``<editor data>/Cursor/User/globalStorage/``: ``${XDG_CONFIG_HOME:-~/.config}`` (Linux),
``~/Library/Application Support`` (macOS), ``%APPDATA%`` (Windows). A bubble's
``tokenCount {inputTokens, outputTokens}`` is left at 0 by current versions, the few non-zero
ones record no model, and a chat's ``usageData`` holds legacy request costs, not tokens: the
usage Cursor bills is kept on its servers (its dashboard's export). Nothing is read, so no
figure is guessed.

Cursor's source is not public: the layout and the observation that the counts are not filled
come from the peer trackers that read this store (their notes and fixtures: the ``bubbleId:``
``tokenCount`` queries and their surveys of real stores).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from llmledger.sources.cline_family import editor_bases
from llmledger.sources.no_counts import NoTokenCounts

NAME = "cursor"


def _roots(env: Mapping[str, str]) -> list[Path]:
    stores = [
        base / "Cursor" / "User" / "globalStorage" / "state.vscdb" for base in editor_bases(env)
    ]
    present = [store for store in stores if store.is_file()]
    return present or stores[:1]


SOURCE = NoTokenCounts(
    NAME,
    "Cursor",
    _roots,
    "its chat store leaves per-message token counts at 0 and names no model; Cursor keeps the"
    " usage it bills on its servers",
)

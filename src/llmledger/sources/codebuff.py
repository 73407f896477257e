"""Codebuff (CodebuffAI/codebuff): no token counts on disk.

The CLI keeps each chat in ``~/.config/manicode/projects/<project>/chats/<chat id>/``
(``messages.json``: the messages and ``updatedAt``; ``log.jsonl``): the model calls run on
Codebuff's servers, which bill credits, and no token count reaches these files. Nothing is
read.

Verified against CodebuffAI/codebuff @ da0d5711 (``npm-app/src/credentials.ts``
``CONFIG_DIR``, ``npm-app/src/project-files.ts`` ``getProjectDataDir`` /
``getCurrentChatDir``, ``npm-app/src/chat-storage.ts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from llmledger.sources.base import home_dir
from llmledger.sources.no_counts import NoTokenCounts

NAME = "codebuff"


def _roots(env: Mapping[str, str]) -> list[Path]:
    return [home_dir(env) / ".config" / "manicode" / "projects"]


SOURCE = NoTokenCounts(
    NAME,
    "Codebuff",
    _roots,
    "its chats keep messages; the calls run on Codebuff's servers, which bill credits",
)

"""OpenClaw (formerly Clawdbot), built on pi's agent: ``~/.openclaw/agents/<agentId>/sessions/
<sessionId>.jsonl`` (``~/.clawdbot/agents/…`` before the rename), in pi's session format, read
by ``pi_sessions``; ``sessions.json`` beside them is an index, not usage."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from llmledger.sources import pi_sessions
from llmledger.sources.base import FileParse, FileSource, SourceFile, home_dir
from llmledger.sources.walk import existing_dirs, walk_files

NAME = "openclaw"


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    return pi_sessions.parse_file(path, offset, carry, budget, NAME)


def _is_transcript(path: str) -> bool:
    return path.endswith(".jsonl") and os.path.basename(os.path.dirname(path)) == "sessions"


class OpenClaw(FileSource):
    name = NAME
    title = "OpenClaw"
    shortcut = "openclaw"  # llmledger daily --openclaw

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        home = home_dir(env)
        return [home / ".openclaw" / "agents", home / ".clawdbot" / "agents"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in existing_dirs(self.roots(env)):
            for path in walk_files(root, lambda name: name.endswith(".jsonl")):
                if _is_transcript(path):
                    yield SourceFile(NAME, path, "jsonl")

    parse = staticmethod(parse_file)


SOURCE = OpenClaw()

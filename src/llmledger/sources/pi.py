"""pi, the coding agent of badlogic/pi-mono: ``${PI_CODING_AGENT_DIR:-~/.pi/agent}/sessions/
--<cwd>--/<timestamp>_<uuid>.jsonl`` (``PI_CODING_AGENT_SESSION_DIR`` moves the sessions);
read by ``pi_sessions``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from llmledger.sources import pi_sessions
from llmledger.sources.base import FileParse, FileSource, SourceFile, env_dir
from llmledger.sources.walk import existing_dirs, walk_files

NAME = "pi"


def sessions_dir(env: Mapping[str, str]) -> Path:
    configured = env.get("PI_CODING_AGENT_SESSION_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    return env_dir(env, "PI_CODING_AGENT_DIR", ".pi/agent") / "sessions"


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    return pi_sessions.parse_file(path, offset, carry, budget, NAME)


class Pi(FileSource):
    name = NAME
    title = "pi"
    shortcut = "pi"  # llmledger daily --pi

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [sessions_dir(env)]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in existing_dirs(self.roots(env)):
            for path in walk_files(root, lambda name: name.endswith(".jsonl")):
                yield SourceFile(NAME, path, "jsonl")

    parse = staticmethod(parse_file)


SOURCE = Pi()

"""Cline (VS Code extension ``saoudrizwan.claude-dev``): task folders, read as the Cline family
reads them (``cline_family``), plus Cline's own storage outside VS Code,
``${CLINE_DATA_DIR:-${CLINE_DIR:-~/.cline}/data}/tasks`` (JetBrains, the standalone host).

``tokensIn`` is the input without the cache for most providers (Anthropic, OpenRouter, OpenAI
native, DeepSeek, Gemini, Cline's own …): each subtracts the cached tokens before reporting.
The OpenAI-compatible providers in ``PROMPT_INCLUDES_CACHE`` report ``prompt_tokens`` as it
came, cache included, beside a cached count: for those the cache is taken out again.

The model: the message's ``modelInfo.modelId`` (recent versions stamp it on every message),
else ``task_metadata.json``'s ``model_usage`` entry in effect at the request
(``{ts, model_id, model_provider_id, mode}``, appended when the model changes), else the task's
``modelId`` in ``<storage>/state/taskHistory.json``, whose ``cwdOnTaskInitialization`` is also
the project.

Cline 4.1+ (the SDK-based extension and CLI) no longer writes ``ui_messages.json``
(``apps/vscode/src/sdk/sdk-task-control-coordinator.ts``): its sessions,
``${CLINE_SESSION_DATA_DIR:-<cline data>/sessions}/<id>/*.messages.json``, are read by
``cline_sessions``.

Verified against cline/cline @ beb3ad78 (``src/core/api/providers/{openai,litellm,doubao,
fireworks,hicap,lmstudio,qwen,xai,zai}.ts`` pass ``prompt_tokens``; ``openrouter.ts``,
``openai-native.ts``, ``deepseek.ts`` subtract the cache; ``src/shared/HistoryItem.ts``) and
@ 21cb8d25 (``apps/vscode/src/shared/storage/storage-context.ts``: CLINE_DATA_DIR, CLINE_DIR).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from llmledger.sources import cline_sessions
from llmledger.sources.base import FileParse, SourceFile, env_dir
from llmledger.sources.cline_family import (
    ApiReqInfo,
    Flavor,
    TaskContext,
    TaskSource,
    latest_before,
    mtime_ns,
    read_json,
)
from llmledger.sources.walk import note_unreadable

NAME = "cline"
PROMPT_INCLUDES_CACHE = frozenset(
    {"openai", "litellm", "doubao", "fireworks", "hicap", "lmstudio", "qwen", "xai", "zai"}
)


def includes_cache(info: ApiReqInfo, provider: str | None, ts_ms: int) -> bool:
    return (provider or "").lower() in PROMPT_INCLUDES_CACHE


def data_dir(env: Mapping[str, str]) -> Path:
    configured = env.get("CLINE_DATA_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    return env_dir(env, "CLINE_DIR", ".cline") / "data"


def sessions_dir(env: Mapping[str, str]) -> Path:
    configured = env.get("CLINE_SESSION_DATA_DIR", "").strip()
    return Path(configured).expanduser() if configured else data_dir(env) / "sessions"


def _extra_roots(env: Mapping[str, str]) -> list[Path]:
    return [data_dir(env) / "tasks"]


def model_usage(metadata: object) -> list[tuple[int, str, str | None]]:
    """Pure: ``task_metadata.json``'s model changes, (ts, model, provider), in time order."""
    entries = metadata.get("model_usage") if isinstance(metadata, dict) else None
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        ts, model, provider = entry.get("ts"), entry.get("model_id"), entry.get("model_provider_id")
        if isinstance(ts, (int, float)) and isinstance(model, str) and model:
            found.append((int(ts), model, provider if isinstance(provider, str) else None))
    return sorted(found, key=lambda e: e[0])


@lru_cache(maxsize=4)
def _task_history(path: str, stamp: int) -> dict[str, tuple[str | None, str | None]]:
    """Task id -> (modelId, cwdOnTaskInitialization) from one ``taskHistory.json``."""
    items = read_json(Path(path))
    found: dict[str, tuple[str | None, str | None]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        model, cwd = item.get("modelId"), item.get("cwdOnTaskInitialization")
        found[item["id"]] = (
            model if isinstance(model, str) and model else None,
            cwd if isinstance(cwd, str) and cwd else None,
        )
    return found


def cline_context(folder: Path) -> TaskContext:
    usage = model_usage(read_json(folder / "task_metadata.json"))
    history = folder.parent.parent / "state" / "taskHistory.json"
    model, project = _task_history(str(history), mtime_ns(history)).get(folder.name, (None, None))

    def model_at(ts: int, next_ts: int | None) -> tuple[str | None, str | None]:
        chosen = latest_before(usage, ts)
        return chosen if chosen is not None else (model, None)

    return TaskContext(model_at, project)


FLAVOR = Flavor(
    name=NAME,
    title="Cline",
    shortcut="cline",  # llmledger daily --cline
    extension_id="saoudrizwan.claude-dev",
    includes_cache=includes_cache,
    context=cline_context,
    extra_roots=_extra_roots,
)


class Cline(TaskSource):
    """Classic task folders, and the SDK's session files (Cline 4.1+)."""

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [*super().roots(env), sessions_dir(env)]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        yield from super().discover(env)
        base = sessions_dir(env)
        try:
            with os.scandir(base) as entries:
                folders = sorted(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError as exc:
            note_unreadable(base, exc)
            return
        for folder in folders:
            try:
                names = sorted(os.listdir(folder))
            except OSError as exc:
                note_unreadable(folder, exc)
                continue
            for name in names:
                if name.endswith(cline_sessions.SUFFIX):
                    yield SourceFile(NAME, os.path.join(folder, name), "document")

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        if path.name.endswith(cline_sessions.SUFFIX):
            return cline_sessions.parse_session_file(path, NAME)
        return super().parse(path, offset, carry, budget)


SOURCE = Cline(FLAVOR)

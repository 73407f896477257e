"""Task folders of Cline and its forks Roo Code and Kilo Code (VS Code extensions): what the
three share. The agent modules (``cline``, ``roo_code``, ``kilo_code``) are a ``Flavor`` each.

A task is ``<storage>/tasks/<taskId>/``, ``<storage>`` being the extension's global storage,
``<editor>/User/globalStorage/<extension id>`` under ``$XDG_CONFIG_HOME`` (``~/.config``,
Linux), ``~/Library/Application Support`` (macOS) or ``%APPDATA%`` (Windows), or
``~/.vscode-server/data/User/globalStorage/<extension id>`` (a remote VS Code server).
``ui_messages.json`` is the task's whole ``ClineMessage[]``, rewritten on every change, so it
is read whole whenever it changes. Each request to the model is one ``say: "api_req_started"``
message whose ``text`` is JSON (``ClineApiReqInfo``): ``{request?, tokensIn, tokensOut,
cacheWrites, cacheReads, cost, cancelReason?, apiProtocol?}``, written first as a placeholder
without counts and filled in as the response streams. One message is one call, id
``<source>:<taskId>:<ts>`` (``ts``, in ms, is the message's stable key in the task); a later
read of a grown message replaces it. Cline's ``subagent_usage`` messages (the summed usage of a
batch of subagents) are one aggregate event each. ``deleted_api_reqs`` (the summed usage of
requests a checkpoint restore deleted) is not counted: those requests were already counted if
a scan saw them, and counting the sum too would count them twice.

What ``tokensIn`` holds differs by agent, provider and version (``Flavor.includes_cache``);
``cacheReads`` and ``cacheWrites`` are always separate, ``tokensOut`` includes reasoning.

Verified against cline/cline @ beb3ad78 (``src/shared/ExtensionMessage.ts``,
``src/core/task/utils.ts`` ``updateApiReqMsg``, ``src/core/storage/disk.ts``,
``src/core/context/context-tracking/ContextTrackerTypes.ts``, ``src/core/api/providers/*``),
RooCodeInc/Roo-Code @ cb836567 (``src/core/task/Task.ts``, ``src/shared/cost.ts``,
``packages/types/src/message.ts``, ``src/core/environment/getEnvironmentDetails.ts``) and
Kilo-Org/kilocode @ f2d62c8f (``src/shared/cost.ts``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import (
    Count,
    FileParse,
    FileSource,
    Record,
    SourceFile,
    home_dir,
    nonnegative,
    utc_from_ms,
    xdg_dir,
)
from llmledger.sources.walk import note_unreadable

UI_MESSAGES = "ui_messages.json"
# VS Code and the forks people run these extensions in (their user-data folder names).
EDITORS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")
USAGE_SAYS = frozenset({"api_req_started", "subagent_usage"})
_MARKERS = (b'"api_req_started"', b'"subagent_usage"')

# Provider ids the price book knows under another name (the rest are priced by model name).
PROVIDERS = {
    "anthropic": "anthropic",
    "openai-native": "openai",
    "gemini": "gemini",
    "deepseek": "deepseek",
    "xai": "xai",
    "moonshot": "moonshot",
    "qwen": "dashscope",
    "mistral": "mistral",
}


class ApiReqInfo(msgspec.Struct):
    """The JSON in an ``api_req_started`` (or ``subagent_usage``) message's ``text``."""

    tokensIn: Count | None = None
    tokensOut: Count | None = None
    cacheWrites: Count | None = None
    cacheReads: Count | None = None
    apiProtocol: str | None = None


class _ModelInfo(msgspec.Struct):
    modelId: str | None = None
    providerId: str | None = None


class _UiMessage(msgspec.Struct):
    ts: float | None = None
    type: str | None = None
    say: str | None = None
    text: str | None = None
    modelInfo: _ModelInfo | None = None  # Cline only, on every message of recent versions


_decode_raw_list = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_message = msgspec.json.Decoder(_UiMessage).decode
_decode_info = msgspec.json.Decoder(ApiReqInfo).decode


class Malformed(Exception):
    """A task file or message that is not what these extensions write."""


class Call(msgspec.Struct, frozen=True):
    """One usage message of a task, before its model and input rule are applied."""

    ts_ms: int
    say: str
    info: ApiReqInfo
    model: str | None
    provider: str | None


class TaskContext(msgspec.Struct, frozen=True):
    """What a task's side files say: the model in effect at a time, and the project."""

    model_at: Callable[[int, int | None], tuple[str | None, str | None]]
    project: str | None = None


# includes_cache(info, provider id, ms timestamp): whether tokensIn has the cache inside it.
InputRule = Callable[[ApiReqInfo, "str | None", int], bool]


class Flavor(msgspec.Struct, frozen=True):
    """One of the three extensions: its names, where it keeps tasks, how to read its counts."""

    name: str
    title: str
    shortcut: str
    extension_id: str
    includes_cache: InputRule
    context: Callable[[Path], TaskContext]
    extra_roots: Callable[[Mapping[str, str]], list[Path]] = lambda env: []


def usage_calls(data: bytes) -> tuple[list[Call], int]:
    """Pure: the usage messages of a ``ui_messages.json`` and the number of malformed ones.
    Raises Malformed when the file is not a JSON array."""
    try:
        raws = _decode_raw_list(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    calls: list[Call] = []
    malformed = 0
    for raw in raws:
        chunk = bytes(raw)
        if not any(marker in chunk for marker in _MARKERS):
            continue  # never decode the many messages that cannot carry usage
        try:
            message = _decode_message(chunk)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            malformed += 1
            continue
        if message.type != "say" or message.say not in USAGE_SAYS:
            continue
        if message.ts is None or not message.text or not 0 < message.ts < 1e14:
            malformed += 1 if message.text else 0
            continue
        try:
            info = _decode_info(message.text)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            malformed += 1
            continue
        model_info = message.modelInfo
        calls.append(
            Call(
                ts_ms=int(message.ts),
                say=message.say,
                info=info,
                model=(model_info.modelId or None) if model_info else None,
                provider=(model_info.providerId or None) if model_info else None,
            )
        )
    return calls, malformed


def to_records(
    flavor: Flavor, task_id: str, calls: list[Call], context: TaskContext
) -> list[Record]:
    """Pure: the ledger records of a task's usage messages."""
    records = []
    for number, call in enumerate(calls):
        info = call.info
        cache_read, cache_write = nonnegative(info.cacheReads), nonnegative(info.cacheWrites)
        tokens_in, output = nonnegative(info.tokensIn), nonnegative(info.tokensOut)
        next_ts = calls[number + 1].ts_ms if number + 1 < len(calls) else None
        model, provider = call.model, call.provider
        if model is None:
            found_model, found_provider = context.model_at(call.ts_ms, next_ts)
            model, provider = found_model, provider or found_provider
        fresh = tokens_in
        if flavor.includes_cache(info, provider, call.ts_ms):
            fresh = max(0, tokens_in - cache_read - cache_write)
        if not (fresh or output or cache_read or cache_write):
            continue  # a placeholder: the request has not reported usage (yet)
        aggregate = call.say == "subagent_usage"
        records.append(
            Record(
                id=f"{flavor.name}:{task_id}:{call.ts_ms}",
                ts=utc_from_ms(call.ts_ms),
                model=(model or "unknown").strip() or "unknown",
                provider=PROVIDERS.get((provider or "").lower()),
                input_tokens=fresh,
                cache_read_tokens=cache_read,
                cache_write_tokens=cache_write,
                cache_write_1h_tokens=0,
                output_tokens=output,
                reasoning_tokens=0,
                session_id=task_id,
                project=context.project,
                requests=0 if aggregate else 1,
                details={"subagents": True, "requests_unknown": True} if aggregate else None,
                rank=fresh + cache_read + cache_write + output,
            )
        )
    return records


def parse_task(flavor: Flavor, path: Path) -> FileParse:
    """Read one task's ``ui_messages.json`` (and, for the model and project, its side files)."""
    data = path.read_bytes()
    try:
        calls, malformed = usage_calls(data)
    except Malformed:
        return FileParse([], len(data), 1, None)
    if not calls:
        return FileParse([], len(data), malformed, None)
    context = flavor.context(path.parent)
    records = to_records(flavor, path.parent.name, calls, context)
    return FileParse(records, len(data), malformed, None)


# --- side files ---------------------------------------------------------------------------


def read_json(path: Path) -> Any:
    """A side file's JSON, or None when it is missing, unreadable or not JSON."""
    try:
        return msgspec.json.decode(path.read_bytes())
    except (OSError, ValueError, msgspec.DecodeError, RecursionError):
        return None


def mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def latest_before(
    stamped: list[tuple[int, str, str | None]], ts: int
) -> tuple[str, str | None] | None:
    """The (model, provider) of the last entry stamped at or before ``ts`` (else the first)."""
    chosen = None
    for stamp, model, provider in stamped:
        if stamp <= ts or chosen is None:
            chosen = (model, provider)
        if stamp > ts:
            break
    return chosen


# --- where tasks are ----------------------------------------------------------------------


def editor_bases(env: Mapping[str, str]) -> list[Path]:
    """The folders editors keep their user data in, on Linux, macOS and Windows."""
    bases = [
        xdg_dir(env, "XDG_CONFIG_HOME", ".config"),
        home_dir(env) / "Library" / "Application Support",
    ]
    appdata = env.get("APPDATA", "").strip()
    if appdata:
        bases.append(Path(appdata))
    return bases


def storage_dirs(env: Mapping[str, str], extension_id: str) -> list[Path]:
    """Every editor's global storage folder of the extension (present or not), in order."""
    found = [
        base / editor / "User" / "globalStorage" / extension_id
        for base in editor_bases(env)
        for editor in EDITORS
    ]
    server = home_dir(env) / ".vscode-server" / "data" / "User" / "globalStorage" / extension_id
    return [*found, server]


def task_dirs(flavor: Flavor, env: Mapping[str, str]) -> list[Path]:
    """Every ``tasks`` folder the extension may have written (present or not)."""
    candidates = [d / "tasks" for d in storage_dirs(env, flavor.extension_id)]
    return [*candidates, *flavor.extra_roots(env)]


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


class TaskSource(FileSource):
    """An agent whose tasks are Cline-style task folders (one ``ui_messages.json`` each)."""

    def __init__(self, flavor: Flavor) -> None:
        self.flavor = flavor
        self.name = flavor.name
        self.title = flavor.title
        self.shortcut: str | None = flavor.shortcut

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        """The task folders that exist; VS Code's on this system (and the extra ones) when
        none does, so ``llmledger sources`` says where the logs would be."""
        editors = [d / "tasks" for d in storage_dirs(env, self.flavor.extension_id)]
        present = [d for d in editors if _is_dir(d)]
        if not present:
            present = [editors[_default_base_index(env) * len(EDITORS)]]
        return [*present, *self.flavor.extra_roots(env)]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        seen: set[str] = set()
        for tasks in task_dirs(self.flavor, env):
            try:
                if not tasks.is_dir():
                    continue
                real = os.path.realpath(tasks)
                if real in seen:
                    continue
                seen.add(real)
                with os.scandir(tasks) as entries:
                    folders = sorted(e.path for e in entries if e.is_dir(follow_symlinks=False))
            except OSError as exc:
                note_unreadable(tasks, exc)
                continue
            for folder in folders:
                ui = os.path.join(folder, UI_MESSAGES)
                try:
                    if os.path.isfile(ui):
                        yield SourceFile(self.name, ui, "document")
                except OSError as exc:  # pragma: no cover - isfile does not raise on POSIX
                    note_unreadable(folder, exc)

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        return parse_task(self.flavor, path)


def _default_base_index(env: Mapping[str, str]) -> int:
    """Which of ``editor_bases`` this system's editors use: 0 Linux, 1 macOS, 2 Windows."""
    if sys.platform == "darwin":
        return 1
    if sys.platform == "win32" and env.get("APPDATA", "").strip():
        return 2
    return 0


# --- the model and project of Roo Code and Kilo Code tasks ----------------------------------

_MODEL_TAG = re.compile(r"<model>\s*([^<\s][^<]*?)\s*</model>")
_WORKSPACE = re.compile(r"# Current Workspace Directory \((.+?)\) Files")


class _Block(msgspec.Struct):
    type: str | None = None
    text: str | None = None


class _ApiMessage(msgspec.Struct):
    role: str | None = None
    ts: float | None = None
    content: str | list[_Block] | None = None


_decode_history = msgspec.json.Decoder(list[_ApiMessage]).decode


def stamped_models(history: bytes) -> tuple[list[tuple[int, str, str | None]], str | None]:
    """Pure: (ts, model, None) of each user message of an ``api_conversation_history.json``
    whose environment details name the model (``<model>…</model>``), and the first workspace
    directory they name. Nothing when the file is not that JSON."""
    try:
        messages = _decode_history(history)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return [], None
    stamped: list[tuple[int, str, str | None]] = []
    workspace = None
    for message in messages:
        if message.role != "user" or message.content is None:
            continue
        texts = (
            [message.content]
            if isinstance(message.content, str)
            else [b.text for b in message.content if b.text]
        )
        for text in texts:
            if "<model>" not in text:
                continue
            found = _MODEL_TAG.findall(text)
            if found and message.ts is not None:
                stamped.append((int(message.ts), found[-1], None))
            if workspace is None:
                place = _WORKSPACE.search(text)
                workspace = place.group(1) if place else None
    stamped.sort(key=lambda entry: entry[0])
    return stamped, workspace


def model_between(
    stamped: list[tuple[int, str, str | None]], ts: int, next_ts: int | None
) -> tuple[str | None, str | None]:
    """The model of a request sent at ``ts``: the last one stamped before the next request
    (the request's own prompt is stamped after its ``api_req_started``); a retry, whose
    prompt is not stamped again, takes the one before it."""
    own = [e for e in stamped if e[0] >= ts and (next_ts is None or e[0] < next_ts)]
    if own:
        return own[-1][1], None
    chosen = latest_before(stamped, ts)
    return (chosen[0], None) if chosen else (None, None)


@lru_cache(maxsize=64)
def _roo_task_side(
    folder: str, stamp: tuple[int, int]
) -> tuple[tuple[tuple[int, str, str | None], ...], str | None]:
    base = Path(folder)
    try:
        history = (base / "api_conversation_history.json").read_bytes()
    except OSError:
        history = b"[]"
    stamped, workspace = stamped_models(history)
    item = read_json(base / "history_item.json")
    listed = item.get("workspace") if isinstance(item, dict) else None
    project = listed if isinstance(listed, str) and listed else workspace
    return tuple(stamped), project


def roo_context(folder: Path) -> TaskContext:
    """A Roo Code / Kilo Code task's models (from its prompts) and project."""
    stamp = (
        mtime_ns(folder / "api_conversation_history.json"),
        mtime_ns(folder / "history_item.json"),
    )
    stamped, project = _roo_task_side(str(folder), stamp)
    listed = list(stamped)
    return TaskContext(lambda ts, next_ts: model_between(listed, ts, next_ts), project)

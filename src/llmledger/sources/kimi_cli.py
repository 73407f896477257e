"""Kimi CLI sessions: ``${KIMI_SHARE_DIR:-~/.kimi}/sessions/<md5 of work dir>/<uuid>/wire.jsonl``.

Each wire line is ``{"timestamp": <epoch seconds>, "message": {"type": …, "payload": …}}``. A
``StatusUpdate`` whose payload has ``token_usage`` is the usage of one LLM step (per step, not
running totals); ``message_id`` is the provider's response id, so the call's id is
``kimi-cli:<message_id>``. ``input_other`` excludes the cache: input = ``input_other``, cache
read = ``input_cache_read``, cache write = ``input_cache_creation``; no reasoning count is kept.

A subagent's steps reach the parent's wire wrapped in ``SubagentEvent`` (newer versions also keep
them in ``subagents/<agent_id>/wire.jsonl``): only the session's own wire is read, and the
wrapped updates are unwrapped, so each step counts once.

No line names the model. A subagent's comes from its ``subagents/<agent_id>/meta.json``
(``launch_spec.effective_model``); the rest from ``config.toml``'s ``default_model`` (its
``[models.<key>].model``), else ``kimi-for-coding``. The work directory comes from
``kimi.json``, which lists the directories whose md5 names the session's folder.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
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
    env_dir,
    keep_best,
    nonnegative,
)
from llmledger.sources.jsonl import JsonlReader, marker_pattern

NAME = "kimi-cli"
PROVIDER = "moonshot"
DEFAULT_MODEL = "kimi-for-coding"
MARKERS = marker_pattern(b'"token_usage"')


class _TokenUsage(msgspec.Struct):
    input_other: Count | None = None
    output: Count | None = None
    input_cache_read: Count | None = None
    input_cache_creation: Count | None = None


_decode = msgspec.json.Decoder().decode


class Malformed(Exception):
    """A line that is not a valid Kimi CLI wire record."""


def _updates(
    message: Mapping[str, Any] | None, agent: str | None
) -> Iterator[tuple[Mapping[str, Any], str | None]]:
    """(payload, agent id) of every StatusUpdate in ``message``, SubagentEvents unwrapped."""
    if not isinstance(message, Mapping):
        return
    kind, payload = message.get("type"), message.get("payload")
    if not isinstance(payload, Mapping):
        return
    if kind == "StatusUpdate":
        yield payload, agent
    elif kind == "SubagentEvent":
        inner = payload.get("agent_id") or payload.get("task_tool_call_id")
        yield from _updates(payload.get("event"), inner if isinstance(inner, str) else agent)


def parse_line(
    line: bytes, session: str, project: str | None, model_of: Callable[[str | None], str]
) -> list[Record]:
    """Pure: one wire line to its usage records. ``model_of(agent_id or None)`` names the model.
    Raises Malformed."""
    try:
        entry = _decode(line)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    if not isinstance(entry, dict):
        raise Malformed("a wire line must be a JSON object")
    stamp = entry.get("timestamp")
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
        raise Malformed("a wire line needs a numeric timestamp")
    try:
        moment = datetime.fromtimestamp(stamp, timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise Malformed(f"bad timestamp: {exc}") from None
    records = []
    for payload, agent in _updates(entry.get("message"), None):
        raw = payload.get("token_usage")
        if raw is None:
            continue  # plan-mode and MCP status updates carry no usage
        try:
            usage = msgspec.convert(raw, _TokenUsage)
        except msgspec.ValidationError as exc:
            raise Malformed(str(exc)) from None
        fresh, output = nonnegative(usage.input_other), nonnegative(usage.output)
        cache_read, cache_write = (
            nonnegative(usage.input_cache_read),
            nonnegative(usage.input_cache_creation),
        )
        if not (fresh or output or cache_read or cache_write):
            continue
        message_id = payload.get("message_id")
        if isinstance(message_id, str) and message_id:
            event_id = f"{NAME}:{message_id}"
        else:  # no response id: the step's time and counts identify it
            event_id = f"{NAME}:{session}:{stamp!r}:{fresh}:{cache_read}:{cache_write}:{output}"
        records.append(
            Record(
                id=event_id,
                ts=moment,
                model=model_of(agent),
                provider=PROVIDER,
                input_tokens=fresh,
                cache_read_tokens=cache_read,
                cache_write_tokens=cache_write,
                cache_write_1h_tokens=0,
                output_tokens=output,
                reasoning_tokens=0,
                session_id=session,
                project=project,
                rank=fresh + cache_read + cache_write + output,
            )
        )
    return records


def configured_model(config_toml: bytes) -> str | None:
    """Pure: the model id ``config.toml`` makes the default (None when it names none)."""
    # tomllib and hashlib load here, not with the module: every scan imports every agent.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        config = tomllib.loads(config_toml.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    key = config.get("default_model")
    if not isinstance(key, str) or not key:
        return None
    models = config.get("models")
    entry = models.get(key) if isinstance(models, dict) else None
    model = entry.get("model") if isinstance(entry, dict) else None
    name = model if isinstance(model, str) and model else key
    return name.rsplit("/", 1)[-1]


def work_dirs(kimi_json: bytes) -> dict[str, str]:
    """Pure: session folder name (md5 of the work dir, ``<kaos>_`` prefixed off the local
    machine) -> work dir, from ``kimi.json``."""
    import hashlib

    data = _json(kimi_json)
    found: dict[str, str] = {}
    entries = data.get("work_dirs") if isinstance(data, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str):
            continue
        try:
            digest = hashlib.md5(path.encode("utf-8")).hexdigest()
        except UnicodeEncodeError:  # not a path this machine could have
            continue
        kaos = entry.get("kaos")
        local = not isinstance(kaos, str) or kaos in ("", "local")
        found[digest if local else f"{kaos}_{digest}"] = path
    return found


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (OSError, ValueError):
        return None


def _json(data: bytes) -> Any:
    """Decoded JSON, or None for anything that is not."""
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None


@lru_cache(maxsize=8)
def _share_settings(root: str, stamp: tuple[int, int]) -> tuple[str, dict[str, str]]:
    """The default model and the work dirs of one share directory (cached while its two
    files keep their modification times, ``stamp``)."""
    base = Path(root)
    config = _read(base / "config.toml")
    known = _read(base / "kimi.json")
    model = (configured_model(config) if config else None) or DEFAULT_MODEL
    return model, work_dirs(known) if known else {}


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


_AGENT_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def _subagent_model(session_dir: Path, agent: str) -> str | None:
    if not _AGENT_ID.fullmatch(agent):  # an id is a folder name, never a path
        return None
    raw = _read(session_dir / "subagents" / agent / "meta.json")
    meta = _json(raw) if raw else None
    spec = meta.get("launch_spec") if isinstance(meta, dict) else None
    model = spec.get("effective_model") if isinstance(spec, dict) else None
    return model.rsplit("/", 1)[-1] if isinstance(model, str) and model else None


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    session_dir = path.parent
    share = session_dir.parent.parent.parent  # <share>/sessions/<group>/<session>/wire.jsonl
    stamp = (_mtime(share / "config.toml"), _mtime(share / "kimi.json"))
    default_model, dirs = _share_settings(str(share), stamp)
    project = dirs.get(session_dir.parent.name)
    agents: dict[str, str] = {}

    def model_of(agent: str | None) -> str:
        if agent is None:
            return default_model
        if agent not in agents:
            agents[agent] = _subagent_model(session_dir, agent) or default_model
        return agents[agent]

    reader = JsonlReader(path, offset, MARKERS, budget)
    found: dict[str, Record] = {}
    malformed = 0
    for line in reader.candidates():
        try:
            keep_best(parse_line(line, session_dir.name, project, model_of), found)
        except Malformed:
            malformed += 1
    return FileParse(
        list(found.values()), reader.end_offset, malformed + reader.oversized, None, reader.complete
    )


def share_dir(env: Mapping[str, str]) -> Path:
    return env_dir(env, "KIMI_SHARE_DIR", ".kimi")


def _folders(directory: Path) -> list[Path]:
    """The sub-directories of ``directory``, sorted; none when it cannot be listed."""
    try:
        return sorted(p for p in directory.iterdir() if p.is_dir())
    except OSError:
        return []


class KimiCli(FileSource):
    name = NAME
    title = "Kimi CLI"
    shortcut = "kimi"  # llmledger daily --kimi

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [share_dir(env) / "sessions"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for root in self.roots(env):
            for group in _folders(root):
                for session in _folders(group):
                    wire = session / "wire.jsonl"
                    try:
                        found = wire.is_file()
                    except OSError:  # a session folder we may not search
                        continue
                    if found:
                        yield SourceFile(NAME, str(wire), "jsonl")

    parse = staticmethod(parse_file)


SOURCE = KimiCli()

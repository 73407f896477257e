"""Task folders of Cline, Roo Code and Kilo Code as those extensions write them: the
``ClineMessage`` objects of ``ui_messages.json`` (``ts``, ``type``, ``say``, ``text``, Cline's
``modelInfo``), the ``ClineApiReqInfo`` JSON inside an ``api_req_started`` message's ``text``,
Cline's ``task_metadata.json`` and Roo Code's ``api_conversation_history.json`` with the
environment details every prompt carries (shapes from cline/cline @ beb3ad78 and
RooCodeInc/Roo-Code @ cb836567, see ``llmledger.sources.cline_family``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# 2026-03-02 09:00 UTC in ms, as the extensions stamp messages (Date.now()).
T0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp() * 1000)


def vscode_tasks(home: Path, extension_id: str, editor: str = "Code") -> Path:
    """``tasks`` of an extension's global storage in the Linux layout (~/.config/<editor>)."""
    return home / ".config" / editor / "User" / "globalStorage" / extension_id / "tasks"


def api_req(
    ts: int,
    counts: list[int] | None,
    *,
    protocol: str | None = None,
    model: tuple[str, str] | None = None,
    say: str = "api_req_started",
    cost: float = 0.01,
) -> dict[str, Any]:
    """One usage message; ``counts`` = [tokensIn, tokensOut, cacheWrites, cacheReads], None
    for the placeholder written before the request is sent."""
    info: dict[str, Any] = {"request": "<task>\nfix the failing test\n</task>"}
    if say == "subagent_usage":
        info = {"source": "subagents"}
    if protocol is not None:
        info["apiProtocol"] = protocol
    if counts is not None:
        tokens_in, tokens_out, cache_writes, cache_reads = counts
        info.update(
            tokensIn=tokens_in,
            tokensOut=tokens_out,
            cacheWrites=cache_writes,
            cacheReads=cache_reads,
            cost=cost,
        )
    message: dict[str, Any] = {"ts": ts, "type": "say", "say": say, "text": json.dumps(info)}
    if model is not None:
        provider, model_id = model
        message["modelInfo"] = {"providerId": provider, "modelId": model_id, "mode": "act"}
    return message


def chat(ts: int, text: str, **extra: Any) -> dict[str, Any]:
    return {"ts": ts, "type": "say", "say": "text", "text": text, "partial": False, **extra}


def ask_tool(ts: int) -> dict[str, Any]:
    tool = {"tool": "readFile", "path": "src/app.py", "content": "/src/app.py"}
    return {"ts": ts, "type": "ask", "ask": "tool", "text": json.dumps(tool), "partial": False}


def write_task(tasks: Path, task_id: str, messages: list[Any]) -> Path:
    folder = tasks / task_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ui_messages.json"
    path.write_text(json.dumps(messages))
    return path


def cline_metadata(folder: Path, usage: list[tuple[int, str, str]]) -> None:
    """``task_metadata.json``: ``model_usage`` entries {ts, model_id, model_provider_id, mode}."""
    entries = [
        {"ts": ts, "model_id": model, "model_provider_id": provider, "mode": "act"}
        for ts, provider, model in usage
    ]
    data = {"files_in_context": [], "model_usage": entries, "environment_history": []}
    (folder / "task_metadata.json").write_text(json.dumps(data))


def environment_details(model: str, workspace: str) -> str:
    """Roo Code's ``getEnvironmentDetails`` text (the parts this reader looks at)."""
    return (
        "<environment_details>\n# VSCode Visible Files\nsrc/app.py\n\n"
        "# Current Time\nCurrent time in ISO 8601 UTC format: 2026-03-02T09:00:00.000Z\n\n"
        "# Current Cost\n$0.00\n\n# Current Mode\n<slug>code</slug>\n<name>💻 Code</name>\n"
        f"<model>{model}</model>\n\n\n# Current Workspace Directory ({workspace}) Files\n"
        "src/\n</environment_details>"
    )


def roo_history(folder: Path, prompts: list[tuple[int, str]], workspace: str = "/src/app") -> None:
    """``api_conversation_history.json``: per prompt (ts, model) a user message with the
    environment details, and the assistant's answer."""
    messages: list[dict[str, Any]] = []
    for ts, model in prompts:
        content = [
            {"type": "text", "text": "<task>\nfix the failing test\n</task>"},
            {"type": "text", "text": environment_details(model, workspace)},
        ]
        messages.append({"role": "user", "content": content, "ts": ts})
        answer = [{"type": "text", "text": "Reading the test first."}]
        messages.append({"role": "assistant", "content": answer, "ts": ts + 900})
    (folder / "api_conversation_history.json").write_text(json.dumps(messages))


def sdk_message(
    message_id: str | None,
    ts: int,
    metrics: list[int] | None,
    model: tuple[str, str] | None = ("anthropic", "claude-sonnet-4-5"),
) -> dict[str, Any]:
    """A persisted ``MessageWithMetadata`` of Cline 4.1+ (the SDK): ``metrics`` =
    [inputTokens (cache included), outputTokens, cacheReadTokens, cacheWriteTokens]."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": [{"type": "text", "text": "Reading the test first."}],
        "ts": ts,
    }
    if message_id is not None:
        message["id"] = message_id
    if model is not None:
        message["modelInfo"] = {"id": model[1], "provider": model[0]}
    if metrics is not None:
        inp, out, read, write = metrics
        message["metrics"] = {
            "inputTokens": inp,
            "outputTokens": out,
            "cacheReadTokens": read,
            "cacheWriteTokens": write,
            "cost": 0.01,
        }
    return message


def sdk_session(
    sessions: Path,
    session: str,
    messages: list[dict[str, Any]],
    *,
    stem: str | None = None,
    agent: str = "lead",
) -> Path:
    """``<sessions>/<id>/<stem>.messages.json`` as ``buildMessagesFilePayload`` writes it, and
    the session's manifest ``<id>.json``."""
    folder = sessions / session
    folder.mkdir(parents=True, exist_ok=True)
    user = {"id": "msg_u", "role": "user", "content": "fix the failing test", "ts": T0}
    payload = {
        "version": 1,
        "updated_at": "2026-03-02T09:10:00.000Z",
        "agent": agent,
        "sessionId": stem or session,
        "origin": {"source": "cli"},
        "messages": [user, *messages],
    }
    path = folder / f"{stem or session}.messages.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    manifest = {
        "version": 1,
        "session_id": session,
        "source": "cli",
        "started_at": "2026-03-02T09:00:00.000Z",
        "status": "completed",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "cwd": "/src/cline-app",
    }
    (folder / f"{session}.json").write_text(json.dumps(manifest))
    return path

"""Write ``examples/home/``: a small sample home directory of coding-agent logs.

The files are made up (one developer, one project, five days of March 2026) but each one is
in its agent's real on-disk format and place, so ``llmledger`` reads them exactly as it reads
yours::

    HOME=examples/home LLMLEDGER_HOME=$(mktemp -d) llmledger daily --tz UTC

What is in it, and which counting rule each file exercises:

* Claude Code, ``.claude/projects/<project>/<session>.jsonl``: one reply written three times
  while it streamed (same ``message.id`` + ``requestId``, growing ``output_tokens``; the
  final copy counts), a subagent transcript in ``<session>/subagents/agent-*.jsonl``, a
  1-hour cache write, and a zero-usage ``<synthetic>`` notice (ignored).
* Codex CLI, ``.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``: ``session_meta``,
  ``turn_context`` (the model), ``token_count`` events with a rate-limit-only one
  (``info: null``) and a re-emitted duplicate (same running total: counted once).
* Gemini CLI, ``.gemini/tmp/<projectHash>/chats/session-*.json`` (the legacy one-object
  format): ``input`` includes ``cached``, ``thoughts`` are billed as output.
* OpenCode, ``.local/share/opencode/storage/message/<session>/msg_*.json`` (the legacy
  one-file-per-message format): ``output`` excludes ``reasoning``.

Everything is fixed (ids, timestamps, counts): running the script twice writes the same bytes,
and ``tests/docs/test_sample_home.py`` checks that the committed ``examples/home/`` equals what
this script writes. After changing the script, regenerate with::

    python examples/make_home.py            # or: python examples/make_home.py DEST
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DEST = HERE / "home"
MARKER = "# Sample home for llmledger"
# What this script owns inside its destination (removed before writing again).
GENERATED = ("README.md", ".claude", ".codex", ".gemini", ".local")

CWD = "/home/dev/acme-api"
CLAUDE_PROJECT = CWD.replace("/", "-")
CLAUDE_VERSION = "2.0.14"
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"

# Line uuids are made from short labels, so the same label always gives the same uuid.
_UUIDS = uuid.UUID("6f1d0c52-3b7a-4e89-a2c4-9d5e8b1f7a30")


def _uid(label: str | None) -> str | None:
    return None if label is None else str(uuid.uuid5(_UUIDS, label))


README = f"""{MARKER}

Made-up logs of one developer's coding agents, in each agent's real format and place, written
by `examples/make_home.py` (do not edit by hand: change the script and run it again).
Try it from the repository root:

    HOME=examples/home LLMLEDGER_HOME=$(mktemp -d) llmledger daily --tz UTC
"""


# -- Claude Code ----------------------------------------------------------------------------


def _claude_usage(
    fresh: int, output: int, *, read: int = 0, write_5m: int = 0, write_1h: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": fresh,
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "output_tokens": output,
        "service_tier": "standard",
    }


def _claude_user(
    session: str, label: str, parent: str | None, ts: str, text: str
) -> dict[str, Any]:
    return {
        "parentUuid": _uid(parent),
        "isSidechain": False,
        "userType": "external",
        "cwd": CWD,
        "sessionId": session,
        "version": CLAUDE_VERSION,
        "gitBranch": "main",
        "type": "user",
        "message": {"role": "user", "content": text},
        "uuid": _uid(label),
        "timestamp": ts,
    }


def _claude_reply(
    session: str,
    label: str,
    parent: str,
    ts: str,
    *,
    message_id: str,
    request_id: str,
    model: str,
    text: str,
    stop: str | None,
    usage: dict[str, Any],
    agent: str | None = None,
) -> dict[str, Any]:
    line = {
        "parentUuid": _uid(parent),
        "isSidechain": agent is not None,
        "userType": "external",
        "cwd": CWD,
        "sessionId": session,
        "version": CLAUDE_VERSION,
        "gitBranch": "main",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        },
        "requestId": request_id,
        "type": "assistant",
        "uuid": _uid(label),
        "timestamp": ts,
    }
    if agent is not None:  # a subagent's line: in its own file, marked as a sidechain
        line["agentId"] = agent
    return line


def claude_files() -> dict[str, list[dict[str, Any]]]:
    base = f".claude/projects/{CLAUDE_PROJECT}"
    s1 = "3f1c9a52-7b4e-4c1d-9a0e-5b2d8e6f1a47"
    s2 = "8d4e0b7c-2a91-4f3e-b6c5-1e7a9d2f4c80"
    reply = "Added the /invoices/{id}/pdf route and its test."
    session_one = [
        _claude_user(s1, "c0a1", None, "2026-03-02T09:14:03.112Z", "Add a PDF export route"),
        # Three copies of one streamed reply: only the last (stop_reason set) is the bill.
        *(
            _claude_reply(
                s1,
                f"c0a{n + 2}",
                "c0a1",
                ts,
                message_id="msg_01HkR7mXqT3vYp9WcN2bLd5e",
                request_id="req_011CVa1QwErTy5uIoP7aSd",
                model=SONNET,
                text=reply[:cut],
                stop=stop,
                usage=_claude_usage(3, output, write_5m=18_240),
            )
            for n, (ts, cut, stop, output) in enumerate(
                [
                    ("2026-03-02T09:14:06.480Z", 9, None, 4),
                    ("2026-03-02T09:14:07.915Z", 31, None, 9),
                    ("2026-03-02T09:14:11.208Z", len(reply), "end_turn", 412),
                ]
            )
        ),
        _claude_user(s1, "c0a5", "c0a4", "2026-03-02T09:20:41.006Z", "Now run the tests"),
        _claude_reply(
            s1,
            "c0a6",
            "c0a5",
            "2026-03-02T09:20:49.773Z",
            message_id="msg_01Pq4sZ8vB6nW2xK7tM3cJfA",
            request_id="req_011CVa2RtYuI6oPaS8dFgH",
            model=SONNET,
            text="All 48 tests pass.",
            stop="end_turn",
            usage=_claude_usage(6, 655, read=18_240, write_5m=1_024),
        ),
    ]
    subagent = [
        _claude_reply(
            s1,
            f"d1b{n}",
            "c0a5",
            ts,
            message_id=message_id,
            request_id=request_id,
            model=HAIKU,
            text=text,
            stop="end_turn",
            usage=usage,
            agent="a4f2c91",
        )
        for n, (ts, message_id, request_id, text, usage) in enumerate(
            [
                (
                    "2026-03-02T09:20:44.310Z",
                    "msg_01Xv8bN3mQ5rT7yU9iO1pA2s",
                    "req_011CVa2SdFgH3jKlZ4xCvB",
                    "Found 3 test files under tests/invoices.",
                    _claude_usage(1_862, 96),
                ),
                (
                    "2026-03-02T09:20:46.902Z",
                    "msg_01Mn2bV4cX6zL8kJ0hG3fD5s",
                    "req_011CVa2TqWeR5tYuI6oPaS",
                    "pytest tests/invoices: 48 passed.",
                    _claude_usage(214, 58, read=1_862),
                ),
            ]
        )
    ]
    session_two = [
        _claude_user(s2, "e2c1", None, "2026-03-04T16:02:17.540Z", "Why is the CSV export slow?"),
        _claude_reply(
            s2,
            "e2c2",
            "e2c1",
            "2026-03-04T16:02:29.118Z",
            message_id="msg_01Ty7uI9oP1aS3dF5gH7jK9l",
            request_id="req_011CVc7ZxCvB8nM1qWeRtY",
            model=SONNET,
            text="It issues one query per row; a join fixes it.",
            stop="end_turn",
            usage=_claude_usage(5, 1_187, write_1h=22_806),
        ),
        # A limit notice Claude Code writes itself: model <synthetic>, no usage to count.
        _claude_reply(
            s2,
            "e2c3",
            "e2c2",
            "2026-03-04T16:40:00.000Z",
            message_id="8c1e5d0a-6b2f-4e7d-9a3c-0f4b2e8d1c69",
            request_id="",
            model="<synthetic>",
            text="5-hour limit reached",
            stop="stop_sequence",
            usage=_claude_usage(0, 0),
        ),
    ]
    return {
        f"{base}/{s1}.jsonl": session_one,
        f"{base}/{s1}/subagents/agent-a4f2c91.jsonl": subagent,
        f"{base}/{s2}.jsonl": session_two,
    }


# -- Codex CLI ------------------------------------------------------------------------------


def _codex_tokens(inp: int, cached: int, out: int, reasoning: int) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def _codex_rollout(
    session: str, start: str, model: str, prompt: str, turns: list[tuple[str, tuple[int, ...]]]
) -> list[dict[str, Any]]:
    limits = {
        "primary": {"used_percent": 7.0, "window_minutes": 300, "resets_in_seconds": 14_820},
        "secondary": {"used_percent": 2.0, "window_minutes": 10_080, "resets_in_seconds": 598_200},
    }
    lines: list[dict[str, Any]] = [
        {
            "timestamp": start,
            "type": "session_meta",
            "payload": {
                "id": session,
                "timestamp": start,
                "cwd": CWD,
                "originator": "codex_cli_rs",
                "cli_version": "0.98.0",
                "source": "cli",
                "model_provider": "openai",
            },
        },
        {
            "timestamp": start,
            "type": "turn_context",
            "payload": {
                "cwd": CWD,
                "approval_policy": "on-request",
                "sandbox_policy": {"mode": "workspace-write"},
                "model": model,
                "effort": "medium",
                "summary": "auto",
            },
        },
        {
            "timestamp": start,
            "type": "response_item",
            "payload": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": prompt}],
            },
        },
        # A rate-limit-only update: no usage in it.
        {
            "timestamp": start,
            "type": "event_msg",
            "payload": {"type": "token_count", "info": None, "rate_limits": limits},
        },
    ]
    total = [0, 0, 0, 0]
    previous: tuple[int, ...] = (0, 0, 0, 0)
    for ts, last in turns:
        if last:  # an empty tuple re-emits the previous event unchanged
            total = [a + b for a, b in zip(total, last)]
            previous = last
        info = {
            "total_token_usage": _codex_tokens(*total),
            "last_token_usage": _codex_tokens(*previous),
            "model_context_window": 272_000,
        }
        lines.append(
            {
                "timestamp": ts,
                "type": "event_msg",
                "payload": {"type": "token_count", "info": info, "rate_limits": limits},
            }
        )
    return lines


def codex_files() -> dict[str, list[dict[str, Any]]]:
    one = "019cb2e4-5f1a-7d03-9b8e-2c4a6f1d3e57"
    two = "019cbd3a-8e27-7a41-b5c9-4d2f8e0a6b13"
    return {
        f".codex/sessions/2026/03/03/rollout-2026-03-03T10-05-12-{one}.jsonl": _codex_rollout(
            one,
            "2026-03-03T10:05:12.418Z",
            "gpt-5.1-codex",
            "Add pagination to GET /invoices",
            [
                ("2026-03-03T10:05:31.902Z", (9_812, 3_328, 742, 384)),
                ("2026-03-03T10:05:31.967Z", ()),  # Codex re-emitted the same event
                ("2026-03-03T10:06:02.355Z", (12_406, 9_728, 318, 128)),
            ],
        ),
        f".codex/sessions/2026/03/05/rollout-2026-03-05T13-41-50-{two}.jsonl": _codex_rollout(
            two,
            "2026-03-05T13:41:50.077Z",
            "gpt-5-codex",
            "Write a migration for the invoices.due_date index",
            [("2026-03-05T13:42:14.630Z", (7_150, 2_304, 1_096, 640))],
        ),
    }


# -- Gemini CLI -----------------------------------------------------------------------------


def gemini_files() -> dict[str, dict[str, Any]]:
    project_hash = "5d2f9c8b1e4a7d3c6b0e9f2a5c8d1b4e7a0c3f6d9b2e5a8c1f4d7b0e3a6c9f2d"
    session = "7c2e91ab-4d6f-4b8a-9e13-5f0c2d8a6b47"

    def message(kind: str, ident: str, ts: str, text: str, **extra: Any) -> dict[str, Any]:
        return {"id": ident, "timestamp": ts, "type": kind, "content": text, **extra}

    def reply(
        ident: str, ts: str, text: str, inp: int, out: int, cached: int, thoughts: int
    ) -> dict[str, Any]:
        tokens = {
            "input": inp,
            "output": out,
            "cached": cached,
            "thoughts": thoughts,
            "tool": 0,
            "total": inp + out + thoughts,
        }
        return message("gemini", ident, ts, text, tokens=tokens, model="gemini-2.5-pro")

    chat = {
        "sessionId": session,
        "projectHash": project_hash,
        "startTime": "2026-03-04T10:15:02.331Z",
        "lastUpdated": "2026-03-04T10:17:40.905Z",
        "messages": [
            message(
                "user",
                "0b7d3e19-8a2c-4f5e-b1d6-9c4a7e2f0d83",
                "2026-03-04T10:15:02.331Z",
                "Explain the retry logic in billing/client.py",
            ),
            reply(
                "6e1a4c9f-2b8d-4a7e-9f3c-1d5b8e0a2c64",
                "2026-03-04T10:15:19.448Z",
                "It retries 5xx answers three times with exponential backoff.",
                14_203,
                512,
                0,
                1_088,
            ),
            message(
                "user",
                "a3f8c2d1-7e4b-4c9a-8d2f-6b1e5a9c3d70",
                "2026-03-04T10:17:22.016Z",
                "Add jitter to it",
            ),
            reply(
                "c9d2e7b4-1f6a-4e3c-a8b5-2d0f7c4e9a16",
                "2026-03-04T10:17:40.905Z",
                "Done: the delay is now randomised by +/-20%.",
                15_940,
                903,
                13_312,
                614,
            ),
        ],
    }
    name = f".gemini/tmp/{project_hash}/chats/session-2026-03-04T10-15-7c2e91ab.json"
    return {name: chat}


# -- OpenCode -------------------------------------------------------------------------------


def opencode_files() -> dict[str, dict[str, Any]]:
    session = "ses_63a1f4b2effeM2kQ9xV7cR1tL5"
    base = f".local/share/opencode/storage/message/{session}"

    def message(ident: str, role: str, created: int, **extra: Any) -> dict[str, Any]:
        return {
            "id": ident,
            "sessionID": session,
            "role": role,
            "time": {"created": created, **extra.pop("time", {})},
            **extra,
        }

    def reply(
        ident: str, parent: str, created: int, done: int, tokens: dict[str, Any]
    ) -> dict[str, Any]:
        return message(
            ident,
            "assistant",
            created,
            time={"completed": done},
            parentID=parent,
            modelID="claude-sonnet-4-5",
            providerID="anthropic",
            mode="build",
            path={"cwd": CWD, "root": CWD},
            system=[],
            cost=0,
            tokens=tokens,
        )

    def tokens(inp: int, out: int, reasoning: int, read: int, write: int) -> dict[str, Any]:
        return {
            "input": inp,
            "output": out,
            "reasoning": reasoning,
            "cache": {"read": read, "write": write},
        }

    # 2026-03-05T15:30:00Z = 1772724600000 ms; 2026-03-06T08:45:00Z = 1772786700000 ms.
    messages = [
        message("msg_c5e0a1f7b001Kx2mQ8vN4rT6yU", "user", 1_772_724_600_000),
        reply(
            "msg_c5e0a1f7c002Lp3nR9wO5sU7zV",
            "msg_c5e0a1f7b001Kx2mQ8vN4rT6yU",
            1_772_724_601_250,
            1_772_724_619_870,
            tokens(12, 866, 240, 0, 16_532),
        ),
        message("msg_c5f4d9e2a003Mq4oS0xP6tV8aW", "user", 1_772_786_700_000),
        reply(
            "msg_c5f4d9e2b004Nr5pT1yQ7uW9bX",
            "msg_c5f4d9e2a003Mq4oS0xP6tV8aW",
            1_772_786_701_430,
            1_772_786_713_052,
            tokens(9, 431, 0, 16_532, 2_210),
        ),
    ]
    return {f"{base}/{m['id']}.json": m for m in messages}


# -- writing --------------------------------------------------------------------------------


def _jsonl(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)


def _document(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def files() -> dict[str, str]:
    """Every file of the sample home: path relative to the home -> its text."""
    result = {"README.md": README}
    for path, lines in {**claude_files(), **codex_files()}.items():
        result[path] = _jsonl(lines)
    for path, data in {**gemini_files(), **opencode_files()}.items():
        result[path] = _document(data)
    return dict(sorted(result.items()))


def write(dest: Path) -> None:
    """(Re)write the sample home at ``dest``; refuses a directory it did not make."""
    if dest.exists() and any(dest.iterdir()):
        readme = dest / "README.md"
        if not (readme.is_file() and readme.read_text(encoding="utf-8").startswith(MARKER)):
            raise SystemExit(f"{dest} is not empty and not a sample home: refusing to write there")
        for name in GENERATED:
            target = dest / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    for relative, text in files().items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def main(argv: list[str]) -> int:
    dest = Path(argv[0]) if argv else DEFAULT_DEST
    write(dest)
    total = sum(len(text.encode("utf-8")) for text in files().values())
    print(f"wrote {len(files())} files ({total:,} bytes) to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Cline, Roo Code and Kilo Code: task folders in the extensions' own format (tests/sources/
cline_logs.py) in an isolated HOME, scanned into a real ledger; every total is worked out by
hand from the messages written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.sources import cline, cline_family, roo_code

from .cline_logs import (
    T0,
    api_req,
    ask_tool,
    chat,
    cline_metadata,
    roo_history,
    sdk_message,
    sdk_session,
    vscode_tasks,
    write_task,
)
from .conftest import run_scan, totals

SONNET = ("anthropic", "claude-sonnet-4-5-20250929")
# Before RooCodeInc/Roo-Code#8954 (2025-10-31): Anthropic-protocol tokensIn left the cache out.
OLD = int(roo_code.TOTAL_INPUT_SINCE_MS - 86_400_000)


def cline_task(home: Path) -> Path:
    tasks = vscode_tasks(home, "saoudrizwan.claude-dev")
    return write_task(
        tasks,
        "1772442000000",
        [
            chat(T0, "fix the failing test", say="task", modelInfo={"modelId": SONNET[1]}),
            api_req(T0 + 10, [3638, 409, 1200, 0], model=SONNET),
            chat(T0 + 20, "Reading the test first.", modelInfo={"modelId": SONNET[1]}),
            ask_tool(T0 + 30),
            api_req(T0 + 40, [12, 350, 0, 4838], model=SONNET),
            # OpenAI-compatible provider: tokensIn is prompt_tokens, cache reads inside it.
            api_req(T0 + 50, [5000, 100, 0, 4000], model=("openai", "gpt-4.1")),
            api_req(T0 + 60, [100, 20, 0, 0], say="subagent_usage", model=SONNET),
            # A checkpoint restore's sum of deleted requests: not counted again.
            api_req(T0 + 70, [999, 999, 0, 0], say="deleted_api_reqs", model=SONNET),
            api_req(T0 + 80, None, model=SONNET),  # placeholder: not sent yet
        ],
    )


def test_cline_calls_models_and_cache_rules(ledger: Ledger, isolated_home: Path) -> None:
    cline_task(isolated_home)
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, result.sources["cline"].files) == (0, 1)
    events = {e.id: e for e in ledger.events() if e.source == "cline"}
    assert sorted(events) == [f"cline:1772442000000:{T0 + n}" for n in (10, 40, 50, 60)]
    openai = events[f"cline:1772442000000:{T0 + 50}"]
    assert (openai.model, openai.input_tokens, openai.cache_read_tokens) == ("gpt-4.1", 1000, 4000)
    first = events[f"cline:1772442000000:{T0 + 10}"]
    assert (first.model, first.provider, first.session_id) == (
        SONNET[1],
        "anthropic",
        "1772442000000",
    )
    assert first.cost_status == "computed" and first.cost_nanos
    subagents = events[f"cline:1772442000000:{T0 + 60}"]
    assert (subagents.requests, subagents.details) == (
        0,
        {"subagents": True, "requests_unknown": True},
    )
    assert totals(ledger, "cline")["2026-03-02"] == {
        "input": 3638 + 12 + 1000 + 100,
        "output": 409 + 350 + 100 + 20,
        "cache_read": 4838 + 4000,
        "cache_write": 1200,
        "cache_write_1h": 0,
        "reasoning": 0,
        "messages": 4,
    }


def test_rescan_adds_nothing_and_a_rewritten_task_adds_only_its_new_calls(
    ledger: Ledger, isolated_home: Path
) -> None:
    path = cline_task(isolated_home)
    run_scan(ledger, isolated_home)
    again = run_scan(ledger, isolated_home)
    assert (again.read, ledger.count()) == (0, 4)
    # The extension rewrites the whole file: the placeholder filled in, one more request.
    messages = json.loads(path.read_text())
    messages[-1] = api_req(T0 + 80, [40, 10, 0, 5000], model=SONNET)
    messages.append(api_req(T0 + 90, [7, 3, 0, 5040], model=SONNET))
    path.write_text(json.dumps(messages))
    third = run_scan(ledger, isolated_home)
    assert third.read == 1 and ledger.count() == 6
    assert totals(ledger, "cline")["2026-03-02"]["input"] == 3638 + 12 + 1000 + 100 + 40 + 7


def test_a_streaming_request_grows_in_place(ledger: Ledger, isolated_home: Path) -> None:
    tasks = vscode_tasks(isolated_home, "saoudrizwan.claude-dev")
    write_task(tasks, "t1", [api_req(T0, [3000, 5, 0, 0], model=SONNET)])
    run_scan(ledger, isolated_home)
    write_task(tasks, "t1", [api_req(T0, [3000, 812, 0, 0], model=SONNET)])
    run_scan(ledger, isolated_home)
    (event,) = ledger.events()
    assert (event.id, event.output_tokens) == (f"cline:t1:{T0}", 812)


def test_cline_model_from_task_metadata_and_its_own_data_dir(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "cline-data"
    path = write_task(
        data / "tasks",
        "t-old",
        [api_req(T0 + 10, [100, 10, 0, 0]), api_req(T0 + 5000, [200, 20, 0, 0])],
    )
    cline_metadata(
        path.parent,
        [(T0, "openrouter", "anthropic/claude-sonnet-4"), (T0 + 4000, "deepseek", "deepseek-chat")],
    )
    state = data / "state"
    state.mkdir()
    history = [{"id": "t-old", "ts": T0, "task": "x", "cwdOnTaskInitialization": "/src/old"}]
    (state / "taskHistory.json").write_text(json.dumps(history))
    run_scan(ledger, isolated_home, env={"CLINE_DATA_DIR": str(data)})
    events = sorted(ledger.events(), key=lambda e: e.ts)
    assert [(e.model, e.provider) for e in events] == [
        ("anthropic/claude-sonnet-4", None),
        ("deepseek-chat", "deepseek"),
    ]
    assert {e.project for e in events} == {"/src/old"}
    assert all(e.cost_status == "computed" for e in events)
    assert cline.data_dir({"HOME": "/h", "CLINE_DIR": "/c"}) == Path("/c/data")
    assert cline.data_dir({"HOME": "/h"}) == Path("/h/.cline/data")


@pytest.mark.parametrize(
    ("protocol", "ts", "counts", "fresh"),
    [
        ("openai", T0, [5000, 10, 300, 4000], 700),  # prompt_tokens: the cache is inside
        ("anthropic", T0, [5300, 10, 300, 4000], 1000),  # since #8954: the whole prompt
        ("anthropic", OLD, [1000, 10, 300, 4000], 1000),  # before it: without the cache
        ("anthropic", T0, [4, 10, 300, 4000], 4),  # below the cache: cannot be a total
        (None, T0, [1000, 10, 300, 4000], 1000),  # oldest versions: as Cline's
    ],
)
def test_roo_code_input_rules(
    ledger: Ledger,
    isolated_home: Path,
    protocol: str | None,
    ts: int,
    counts: list[int],
    fresh: int,
) -> None:
    tasks = vscode_tasks(isolated_home, "rooveterinaryinc.roo-cline")
    path = write_task(tasks, "a6b2", [api_req(ts, counts, protocol=protocol)])
    roo_history(path.parent, [(ts + 200, "claude-sonnet-4-5")])
    run_scan(ledger, isolated_home)
    (event,) = ledger.events()
    assert (event.source, event.input_tokens, event.cache_read_tokens) == ("roo-code", fresh, 4000)
    assert (event.cache_write_tokens, event.output_tokens) == (300, 10)


def test_roo_code_model_per_request_and_project(ledger: Ledger, isolated_home: Path) -> None:
    tasks = vscode_tasks(isolated_home, "rooveterinaryinc.roo-cline")
    path = write_task(
        tasks,
        "c3d4",
        [
            api_req(T0, [1000, 10, 0, 0], protocol="anthropic"),
            api_req(T0 + 5000, [1100, 11, 0, 0], protocol="anthropic"),  # a retry: no new prompt
            api_req(T0 + 9000, [1200, 12, 0, 0], protocol="openai"),
        ],
    )
    roo_history(path.parent, [(T0 + 300, "claude-sonnet-4-5"), (T0 + 9300, "gpt-5")], "/src/roo")
    # Roo Code's CLI keeps its tasks in its VS Code shim's storage.
    cli_tasks = isolated_home / ".vscode-mock" / "global-storage" / "tasks"
    cli = write_task(cli_tasks, "cli-1", [api_req(T0 + 20000, [50, 5, 0, 0], protocol="openai")])
    roo_history(cli.parent, [(T0 + 20100, "gpt-5")], "/src/cli")
    run_scan(ledger, isolated_home)
    assert ledger.get(f"roo-code:cli-1:{T0 + 20000}").project == "/src/cli"  # type: ignore[union-attr]
    task = [e for e in ledger.events() if e.session_id == "c3d4"]
    models = [e.model for e in sorted(task, key=lambda e: e.ts)]
    assert models == ["claude-sonnet-4-5", "claude-sonnet-4-5", "gpt-5"]
    assert {e.project for e in task} == {"/src/roo"}  # from the prompts
    other = write_task(tasks, "e5f6", [api_req(T0, [1, 1, 0, 0], protocol="openai")])
    (other.parent / "history_item.json").write_text(json.dumps({"id": "e5f6", "workspace": "/w"}))
    run_scan(ledger, isolated_home)
    assert ledger.get(f"roo-code:e5f6:{T0}").project == "/w"  # type: ignore[union-attr]


def test_kilo_code_in_cursor_on_macos_and_a_vscode_server(
    ledger: Ledger, isolated_home: Path
) -> None:
    support = isolated_home / "Library" / "Application Support"
    mac = support / "Cursor" / "User" / "globalStorage" / "kilocode.kilo-code" / "tasks"
    path = write_task(mac, "k1", [api_req(T0, [2000, 50, 0, 1500], protocol="openai")])
    roo_history(path.parent, [(T0 + 100, "mystery-model-9")])
    server = isolated_home / ".vscode-server" / "data" / "User" / "globalStorage"
    write_task(server / "kilocode.kilo-code" / "tasks", "k2", [api_req(T0, [9, 1, 0, 0])])
    result = run_scan(ledger, isolated_home)
    assert result.sources["kilo-code"].files == 2
    by_task = {e.session_id: e for e in ledger.events()}
    assert (by_task["k1"].input_tokens, by_task["k1"].cache_read_tokens) == (500, 1500)
    # A model the price book does not know stays unpriced; one never named is "unknown".
    assert (by_task["k1"].model, by_task["k1"].cost_status) == ("mystery-model-9", "unpriced")
    assert by_task["k2"].model == "unknown"


def test_malformed_files_and_messages_are_counted_not_fatal(
    ledger: Ledger, isolated_home: Path
) -> None:
    tasks = vscode_tasks(isolated_home, "saoudrizwan.claude-dev")
    write_task(
        tasks,
        "good",
        [
            {"ts": T0, "type": "say", "say": "api_req_started", "text": "{not json"},
            {"ts": "soon", "type": "say", "say": "api_req_started", "text": "{}"},
            api_req(T0 + 1, [10**13, 1, 0, 0], model=SONNET),  # no real log holds this
            api_req(T0 + 2, [10, 1, 0, 0], model=SONNET),
        ],
    )
    (tasks / "cut").mkdir()
    (tasks / "cut" / "ui_messages.json").write_text('[{"ts": 1, "type": "say", "say": "api_')
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 4 and ledger.count() == 1
    assert cline_family.usage_calls(b"[]") == ([], 0)
    with pytest.raises(cline_family.Malformed):
        cline_family.usage_calls(b'{"not": "a list"}')


def test_sources_lists_the_three_and_where_they_looked(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    cline_task(isolated_home)
    assert main(["sources", "--json"]) == 0
    listed = {s["source"]: s for s in json.loads(capsys.readouterr().out)["sources"]}
    config = isolated_home / ".config"
    assert listed["cline"]["locations"] == [
        {
            "path": str(config / "Code/User/globalStorage/saoudrizwan.claude-dev/tasks"),
            "exists": True,
        },
        {"path": str(isolated_home / ".cline/data/tasks"), "exists": False},
        {"path": str(isolated_home / ".cline/data/sessions"), "exists": False},
    ]
    assert (listed["cline"]["files"], listed["cline"]["events"]) == (1, 4)
    assert listed["roo-code"]["locations"] == [
        {
            "path": str(config / "Code/User/globalStorage/rooveterinaryinc.roo-cline/tasks"),
            "exists": False,
        },
        {"path": str(isolated_home / ".vscode-mock/global-storage/tasks"), "exists": False},
    ]
    assert listed["kilo-code"]["title"] == "Kilo Code"
    assert main(["daily", "--cline", "--json", "--no-scan"]) == 0
    daily = json.loads(capsys.readouterr().out)
    assert daily["totals"]["inputTokens"] == 3638 + 12 + 1000 + 100


def test_kilo_code_7_database_is_read_as_opencode_s(ledger: Ledger, isolated_home: Path) -> None:
    from .test_opencode import make_db, message

    base = isolated_home / ".local" / "share" / "kilo"
    base.mkdir(parents=True)
    make_db(base / "kilo.db", [("msg_k1", "ses_k", message(1)), ("msg_k2", "ses_k", message(2))])
    make_db(base / "kilo-beta.db", [("msg_k3", "ses_b", message(3, modelID="kilo-auto-9"))])
    tasks = vscode_tasks(isolated_home, "kilocode.kilo-code")
    write_task(tasks, "k5", [api_req(T0, [100, 10, 0, 0], protocol="openai")])
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, result.sources["kilo-code"].files) == (0, 3)
    events = {e.id: e for e in ledger.events()}
    assert sorted(events) == [
        f"kilo-code:k5:{T0}",
        "opencode:msg_k1",
        "opencode:msg_k2",
        "opencode:msg_k3",
    ]
    assert {e.source for e in events.values()} == {"kilo-code"}
    first = events["opencode:msg_k1"]
    # OpenCode's fields: input without the cache, reasoning billed on top of output.
    assert (first.input_tokens, first.output_tokens, first.cache_read_tokens) == (1000, 550, 200)
    assert (first.cost_status, events["opencode:msg_k3"].cost_status) == ("computed", "unpriced")
    assert run_scan(ledger, isolated_home).read == 0


def test_cline_sdk_sessions(ledger: Ledger, isolated_home: Path, tmp_path: Path) -> None:
    sessions = isolated_home / ".cline" / "data" / "sessions"
    main_file = sdk_session(
        sessions,
        "sess_1",
        [
            sdk_message("msg_a1", T0 + 1000, [12000, 300, 10000, 1500]),
            sdk_message("msg_a2", T0 + 5000, [12600, 80, 11500, 0], model=None),  # manifest's
            sdk_message("msg_a3", T0 + 6000, None),  # a display-only message: no call
            sdk_message(None, T0 + 7000, [500, 5, 0, 0], model=("openai", "gpt-5")),
        ],
    )
    sdk_session(
        sessions,
        "sess_1",
        [sdk_message("msg_s1", T0 + 3000, [4000, 40, 0, 0])],
        stem="sess_1__sub_1",
        agent="subagent",
    )
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, result.sources["cline"].files) == (0, 2)
    events = {e.id: e for e in ledger.events()}
    assert sorted(events) == [
        f"cline:sess_1:{T0 + 7000}",
        "cline:sess_1:msg_a1",
        "cline:sess_1:msg_a2",
        "cline:sess_1__sub_1:msg_s1",
    ]
    first = events["cline:sess_1:msg_a1"]
    # inputTokens includes the cache: 12,000 − 10,000 read − 1,500 written.
    assert (first.input_tokens, first.cache_read_tokens, first.cache_write_tokens) == (
        500,
        10000,
        1500,
    )
    assert (first.model, first.provider, first.project) == (
        "claude-sonnet-4-5",
        "anthropic",
        "/src/cline-app",
    )
    assert events["cline:sess_1:msg_a2"].model == "claude-sonnet-4-5"
    assert events["cline:sess_1__sub_1:msg_s1"].session_id == "sess_1__sub_1"
    assert all(e.cost_status == "computed" for e in events.values())
    assert run_scan(ledger, isolated_home).read == 0
    # The SDK rewrites the file whole: the next call is added, nothing counts twice.
    payload = json.loads(main_file.read_text())
    payload["messages"].append(sdk_message("msg_a4", T0 + 9000, [13000, 20, 12600, 0]))
    main_file.write_text(json.dumps(payload))
    again = run_scan(ledger, isolated_home)
    assert (again.read, ledger.count()) == (1, 5)
    # CLINE_SESSION_DATA_DIR moves them; a cut file is one malformed entry.
    elsewhere = tmp_path / "sdk-sessions"
    (elsewhere / "s2").mkdir(parents=True)
    (elsewhere / "s2" / "s2.messages.json").write_text('{"version": 1, "messages": [')
    moved = run_scan(ledger, isolated_home, env={"CLINE_SESSION_DATA_DIR": str(elsewhere)})
    assert moved.malformed == 1 and ledger.count() == 5

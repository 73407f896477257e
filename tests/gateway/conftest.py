"""Fixtures for the gateway tests: a fake upstream on loopback, real ``llmledger serve``
processes in front of it, ledger keys, and a way to read the ledger the gateway wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmledger.config import Config
from llmledger.gateway.keys import issue_key
from llmledger.ledger import Ledger
from llmledger.query import EventFilter
from tests.gateway.fake_upstream import FakeUpstream

UPSTREAM_KEYS = {"FAKE_KEY_A": "sk-good-a", "FAKE_KEY_B": "sk-good-b"}


def standard_config(
    upstream_port: int, workdir: Path, extra: str = "", request_timeout: float = 2.0
) -> str:
    """One OpenAI-protocol upstream with two accounts, one Anthropic-protocol upstream.
    ``request_timeout`` is short for the 408 tests; load tests give a busy machine longer."""
    return f"""
[gateway]
access_log = "{workdir / "access.log"}"
drain_timeout = 2.0
request_timeout = {request_timeout}
max_header_bytes = 16384
max_body_bytes = 1048576
{extra}

[[upstreams]]
name = "oai"
protocol = "openai"
base_url = "http://127.0.0.1:{upstream_port}/v1"
models = ["gpt-*", "o3*", "text-embedding-*", "slow-*", "stall-*", "limited-*", "early-*",
          "garbage-*", "cut-*", "drop-*",
          {{ name = "fast", model = "gpt-4o-mini" }}, {{ name = "team/*", model = "*" }}]
  [[upstreams.accounts]]
  name = "a"
  api_key_env = "FAKE_KEY_A"
  [[upstreams.accounts]]
  name = "b"
  api_key_env = "FAKE_KEY_B"

[[upstreams]]
name = "claude"
protocol = "anthropic"
base_url = "http://127.0.0.1:{upstream_port}"
models = ["claude-*", "slow-claude-*", "stall-claude-*"]
  [[upstreams.accounts]]
  name = "main"
  api_key_env = "FAKE_KEY_A"
"""


class GatewayProcess:
    """``llmledger serve`` as a real process on a free loopback port."""

    def __init__(self, workdir: Path, config: str, env: dict[str, str] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.config_path = workdir / "config.toml"
        self.config_path.write_text(config)
        self.db = workdir / "ledger.db"
        self.env = {
            **os.environ,
            "HOME": str(workdir / "home"),
            "LLMLEDGER_HOME": str(workdir / "data"),
            **UPSTREAM_KEYS,
            **(env or {}),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.stderr: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "llmledger.cli.main",
            "serve",
            "--config",
            str(self.config_path),
            "--db",
            str(self.db),
            "--port",
            "0",
        ]

    def start(
        self, timeout: float = 30.0, preexec: Callable[[], None] | None = None
    ) -> GatewayProcess:
        self.stderr = []
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            preexec_fn=preexec,
        )
        listening = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)
                if "listening on http://" in line:
                    address = line.split("listening on http://")[1].split()[0]
                    self.port = int(address.rsplit(":", 1)[1])
                    listening.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("gateway did not start:\n" + "".join(self.stderr))
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        return code

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL
        self.proc.wait(10)

    def create_key(
        self, user: str, org: str | None = None, project: str | None = None
    ) -> tuple[str, str]:
        """(key, key id), written straight to the gateway's ledger."""
        with Ledger(self.db, config=Config()) as ledger:
            key, record = issue_key(ledger.keys, user_id=user, org_id=org, project=project)
        return key, record.id

    def ledger(self) -> Ledger:
        return Ledger(self.db, config=Config())

    def events(self, **equals: str) -> list[Any]:
        with self.ledger() as ledger:
            flt = EventFilter(equals={k: (v,) for k, v in equals.items()})
            return list(ledger.events(flt))


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream()
    upstream.start_in_thread()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="session")
def gateway(
    fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """One shared gateway for the end-to-end tests; tests keep apart by using their own key."""
    workdir = tmp_path_factory.mktemp("gateway")
    process = GatewayProcess(workdir, standard_config(fake.port, workdir)).start()
    yield process
    process.stop()


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


TOKEN_NAMES = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def tagged(fake: FakeUpstream, tag: str) -> list[dict[str, Any]]:
    """What the fake upstream served for requests sent with ``x-test-tag: <tag>``."""
    return [e for e in list(fake.log) if e.get("headers", {}).get("x-test-tag") == tag]


def token_sums(rows: list[dict[str, int]]) -> dict[str, int]:
    return {name: sum(row[name] for row in rows) for name in TOKEN_NAMES}


def event_tokens(event: Any) -> dict[str, int]:
    return {name: getattr(event, name) for name in TOKEN_NAMES}


def assert_ledger_matches_fake(
    process: GatewayProcess, fake: FakeUpstream, key_id: str, tag: str, requests: int
) -> list[Any]:
    """Per request and per key: the ledger holds exactly the usage the fake reported."""
    served = [e for e in tagged(fake, tag) if "expected" in e]
    events = process.events(api_key_id=key_id)
    assert len(served) == requests
    assert len(events) == requests
    by_response = {e["response_id"]: e for e in served if "response_id" in e}
    for event in events:
        response_id = (event.details or {}).get("response_id")
        if response_id is not None:
            assert event_tokens(event) == by_response.pop(response_id)["expected"], event
        assert event.success and not event.estimated and event.status == "200"
    assert not by_response, f"served but not in the ledger: {sorted(by_response)}"
    assert token_sums([event_tokens(e) for e in events]) == token_sums(
        [e["expected"] for e in served]
    )
    return events

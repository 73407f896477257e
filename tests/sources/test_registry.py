"""Adding an agent is adding its module: the registry finds it, the reports get its flag."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmledger.sources
from llmledger.sources import registry

AGENT = """
from llmledger.sources.base import FileSource


class Brandnew(FileSource):
    name = "brand-new"
    title = "Brand New Agent"
    shortcut = "brandnew"

    def roots(self, env):
        return []

    def discover(self, env):
        return iter(())

    def parse(self, path, offset, carry, budget):
        raise OSError("no files")


SOURCE = Brandnew()
"""


@pytest.fixture
def one_more_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "brand_new_agent.py").write_text(AGENT)
    monkeypatch.setattr(llmledger.sources, "__path__", [*llmledger.sources.__path__, str(tmp_path)])
    importlib.reload(registry)
    yield
    monkeypatch.undo()
    importlib.reload(registry)


def test_every_agent_module_is_registered_with_its_flag() -> None:
    assert list(registry.SOURCES) == sorted(registry.SOURCES)
    assert registry.shortcuts() == {
        "amp": "amp",
        "claude": "claude-code",
        "cline": "cline",
        "codex": "codex",
        "copilot": "copilot-cli",
        "copilot-otel": "copilot-otel",
        "droid": "droid",
        "gemini": "gemini-cli",
        "goose": "goose",
        "grok": "grok-cli",
        "hermes": "hermes",
        "kilo": "kilo-code",
        "kimi": "kimi-cli",
        "opencode": "opencode",
        "openclaw": "openclaw",
        "pi": "pi",
        "qwen": "qwen-code",
        "roo": "roo-code",
        "zed": "zed",
    }
    assert "qwen-proxy" in registry.SOURCES  # an agent without a flag of its own


@pytest.mark.usefixtures("one_more_agent")
def test_a_new_module_is_a_new_agent() -> None:
    from llmledger.cli.main import build_parser

    assert registry.SOURCES["brand-new"].title == "Brand New Agent"
    assert registry.shortcuts()["brandnew"] == "brand-new"
    args = build_parser().parse_args(["daily", "--brandnew"])
    assert args.source == ["brand-new"]

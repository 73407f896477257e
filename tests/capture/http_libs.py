"""The HTTP client libraries installed here: ``httpx2`` (openai 3.x, anthropic 2.x) and/or
``httpx`` (older SDK releases). Raw-client tests run against each."""

from __future__ import annotations

import importlib
from types import ModuleType

import openai


def _installed() -> list[ModuleType]:
    found = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return found


def _sdk_library() -> ModuleType:
    """The library the installed ``openai`` SDK sends through."""
    http_client = openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9")._client
    for cls in type(http_client).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in ("httpx", "httpx2"):
            return importlib.import_module(root)
    raise RuntimeError(f"openai sends through {type(http_client)}")


LIBRARIES = _installed()
SDK_HTTP = _sdk_library()

"""Shared fixtures for the usage normalizer tests: payload forms and a network guard."""

from __future__ import annotations

import socket
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict


class SDKObject(BaseModel):
    """Stands in for an SDK response model: pydantic, attribute access, extra fields kept."""

    model_config = ConfigDict(extra="allow")


def to_namespace(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{k: to_namespace(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_namespace(v) for v in value]
    return value


def to_pydantic(value: Any) -> Any:
    if isinstance(value, dict):
        return SDKObject(**{k: to_pydantic(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_pydantic(v) for v in value]
    return value


FORMS: dict[str, Callable[[Any], Any]] = {
    "dict": lambda value: value,
    "namespace": to_namespace,
    "pydantic": to_pydantic,
}


@pytest.fixture(params=sorted(FORMS))
def form(request: pytest.FixtureRequest) -> Callable[[Any], Any]:
    """Turns a JSON payload into each accepted form: dict, attribute object, pydantic model."""
    return FORMS[request.param]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Normalizers and the estimator are offline: any connection attempt fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)

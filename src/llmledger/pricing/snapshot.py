"""The price list itself: the snapshot bundled in the package, or a newer refreshed copy.

A snapshot's version is ``<source>-<first 12 hex of its SHA-256>``; every priced event records it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from llmledger.errors import PriceListError

BUNDLED_NAME = "model_prices.json"
REFRESHED_NAME = "model_prices.json"


@dataclass(frozen=True)
class Snapshot:
    entries: dict[str, dict[str, Any]]
    version: str
    origin: str  # "bundled" or the path of a refreshed copy


def parse_snapshot(data: bytes, origin: str, label: str) -> Snapshot:
    try:
        decoded = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise PriceListError(f"price list {origin} is not valid JSON: {exc}") from exc
    if not isinstance(decoded, dict) or not decoded:
        raise PriceListError(f"price list {origin} is not a JSON object of models")
    entries = {
        key: value
        for key, value in decoded.items()
        if key != "sample_spec" and isinstance(value, dict)
    }
    if not entries:
        raise PriceListError(f"price list {origin} has no model entries")
    version = f"{label}-{hashlib.sha256(data).hexdigest()[:12]}"
    return Snapshot(entries=entries, version=version, origin=origin)


def bundled_bytes() -> bytes:
    return resources.files("llmledger.pricing.data").joinpath(BUNDLED_NAME).read_bytes()


def load_bundled() -> Snapshot:
    return parse_snapshot(bundled_bytes(), "bundled", "litellm")


def load_best(cache_dir: Path | None) -> Snapshot:
    """The refreshed copy in ``cache_dir`` when there is a valid one, else the bundled one."""
    if cache_dir is not None:
        refreshed = cache_dir / REFRESHED_NAME
        try:
            return parse_snapshot(refreshed.read_bytes(), str(refreshed), "litellm")
        except (OSError, PriceListError):
            pass
    return load_bundled()

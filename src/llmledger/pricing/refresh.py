"""Refreshing the price list from LiteLLM's public file, with a 1-hour disk cache.

The download is validated before it replaces the cached copy, so a failed or garbled download
leaves the last good copy (or the bundled snapshot) in use. A network failure is a warning.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from llmledger.errors import PriceListError
from llmledger.pricing.snapshot import REFRESHED_NAME, Snapshot, parse_snapshot

DEFAULT_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)
CACHE_SECONDS = 3600
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RefreshResult:
    status: str  # "downloaded", "fresh" (cache younger than an hour) or "failed"
    message: str
    snapshot: Snapshot | None = None


def refresh(
    cache_dir: Path, url: str = DEFAULT_URL, *, force: bool = False, timeout: float = 15.0
) -> RefreshResult:
    target = cache_dir / REFRESHED_NAME
    try:
        age = time.time() - target.stat().st_mtime
    except OSError:
        age = None
    if age is not None and age < CACHE_SECONDS and not force:
        minutes = int(age // 60)
        return RefreshResult(
            "fresh",
            f"price list downloaded {minutes} min ago; kept it (use --force to download again)",
        )
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "llmledger"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return RefreshResult(
            "failed",
            f"could not download the price list from {url}: {reason}; keeping the current one",
        )
    if len(data) > MAX_BYTES:
        return RefreshResult(
            "failed",
            f"price list at {url} is larger than {MAX_BYTES} bytes; keeping the current one",
        )
    try:
        snapshot = parse_snapshot(data, str(target), "litellm")
    except PriceListError as exc:
        return RefreshResult("failed", f"{exc}; keeping the current one")
    partial = target.with_suffix(".part")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        os.replace(partial, target)
    except OSError as exc:
        return RefreshResult(
            "failed",
            f"cannot save the price list to {target}: {exc.strerror}; keeping the current one",
        )
    return RefreshResult(
        "downloaded",
        f"price list updated: {len(snapshot.entries):,} models, version {snapshot.version}",
        snapshot,
    )

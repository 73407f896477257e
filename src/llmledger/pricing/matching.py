"""Matching a model name as it appears in logs and APIs to a key of the price list.

Order (pricing notes): exact key → ``<provider>/<model>`` → normalized name (case, ``.``/``@`` to
``-``, routing prefixes, Bedrock region/vendor prefixes and ``-v1:0`` suffixes, date suffixes) →
a careful prefix match that only drops trailing qualifier words (``-thinking``, ``-high``) and
never a version number, so ``claude-sonnet-4`` can never be priced as ``claude-sonnet-4-5``.
Among several keys for one name, the same vendor wins, then a bare key, then a first-party
provider, then the shortest key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

_REGION_PREFIX = re.compile(r"^(?:us|eu|jp|apac|au|ca|global|us-gov)\.")
_VENDOR_PREFIX = re.compile(
    r"^(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|qwen|openai|google|moonshot)\."
)
_VERSION_SUFFIX = re.compile(r"-v\d+(?::\d+)?$")
_DATE_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-\d{2})$")
# Trailing words that select a mode of the same model, not a different model.
_QUALIFIERS = frozenset(
    {"thinking", "latest", "high", "low", "medium", "minimal", "xhigh", "fast", "cloud", "free"}
)

# Providers that sell their own models, preferred over resellers and clouds when a name is shared.
_FIRST_PARTY = (
    "anthropic",
    "openai",
    "gemini",
    "vertex_ai-language-models",
    "dashscope",
    "deepseek",
    "moonshot",
    "xai",
    "mistral",
    "tencent",
    "zai",
    "cohere",
)

# Clouds that resell a vendor's models at the vendor's list price.
_CLOUDS = ("bedrock", "vertex_ai", "azure")

# How a caller's provider name maps to LiteLLM's provider names and key prefixes.
PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    "anthropic": ("anthropic",),
    "openai": ("openai",),
    "google": ("gemini", "vertex_ai-language-models", "vertex_ai"),
    "gemini": ("gemini", "vertex_ai-language-models", "vertex_ai"),
    "dashscope": ("dashscope", "qwencloud"),
    "qwen": ("dashscope", "qwencloud"),
    "alibaba": ("dashscope",),
    "deepseek": ("deepseek",),
    "moonshot": ("moonshot",),
    "kimi": ("moonshot",),
    "tencent": ("tencent",),
    "hunyuan": ("tencent",),
    "xai": ("xai",),
    "mistral": ("mistral",),
}

_VENDOR_BY_NAME = (
    ("claude", "anthropic"),
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("codex", "openai"),
    ("gemini", "gemini"),
    ("qwen", "dashscope"),
    ("deepseek", "deepseek"),
    ("kimi", "moonshot"),
    ("moonshot", "moonshot"),
    ("hunyuan", "tencent"),
    ("grok", "xai"),
)


def normalize(name: str) -> str:
    """Canonical form of a model name for matching."""
    text = name.strip().lower()
    text = text.rsplit("/", 1)[-1]
    text = _REGION_PREFIX.sub("", text)
    text = _VENDOR_PREFIX.sub("", text)
    text = _VERSION_SUFFIX.sub("", text)
    return text.replace("@", "-").replace(".", "-").replace("_", "-").replace(":", "-")


def strip_date(name: str) -> str:
    return _DATE_SUFFIX.sub("", name)


def guess_vendor(model: str) -> str | None:
    base = normalize(model)
    for needle, vendor in _VENDOR_BY_NAME:
        if base.startswith(needle) or f"-{needle}" in base:
            return vendor
    return None


class NameIndex:
    """Normalized-name indexes over the price-list keys, built once per snapshot."""

    def __init__(self, providers: Mapping[str, str | None]) -> None:
        self._providers = providers
        self._exact: dict[str, list[str]] = {}
        self._undated: dict[str, list[str]] = {}
        for key in providers:
            norm = normalize(key)
            self._exact.setdefault(norm, []).append(key)
            self._undated.setdefault(strip_date(norm), []).append(key)

    def _rank(self, key: str, vendors: tuple[str, ...], level: int) -> tuple[int, ...]:
        provider = self._providers.get(key) or ""
        return (
            0 if provider in vendors else 1,
            0 if provider in _FIRST_PARTY else 1 if provider.startswith(_CLOUDS) else 2,
            level,
            0 if "/" not in key else 1,
            len(key),
        )

    def find(self, model: str, provider: str | None = None) -> str | None:
        """The best price-list key for ``model`` or None when nothing matches safely."""
        if model in self._providers:
            return model
        vendor_names = PROVIDER_ALIASES.get((provider or "").lower(), ())
        if not vendor_names:
            guessed = guess_vendor(model)
            vendor_names = PROVIDER_ALIASES.get(guessed or "", ())
        for prefix in vendor_names:
            key = f"{prefix}/{model}"
            if key in self._providers:
                return key
        # The vendor's own key wins wherever it is found; then a first-party or cloud key; then
        # the key found from the closest form of the name.
        candidates = [
            (self._rank(key, vendor_names, level), key)
            for level, keys in enumerate(self._levels(normalize(model)))
            for key in keys
        ]
        return min(candidates)[1] if candidates else None

    def _levels(self, norm: str) -> Iterator[list[str]]:
        undated = strip_date(norm)
        for keys in (self._exact.get(norm), self._exact.get(undated), self._undated.get(undated)):
            if keys:
                yield keys
        # Vendors often log the GA name of a model the list only has as "-preview".
        preview = self._exact.get(undated + "-preview")
        if preview:
            yield preview
        # Drop trailing qualifier words only: never a version number or a size (mini, pro…).
        parts = undated.split("-")
        while len(parts) > 1 and parts.pop() in _QUALIFIERS:
            shorter = "-".join(parts)
            keys = self._exact.get(shorter) or self._undated.get(shorter)
            if keys:
                yield keys

"""Which provider an SDK client talks to, from its base URL (pure).

The provider name decides the vendor extras a normalizer reads (OpenRouter's reported cost) and
how the price book matches the model (``deepseek/deepseek-chat``, ``dashscope/qwen-plus``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["detect_provider"]

# Host fragment -> provider, first match wins (more specific fragments first).
_HOSTS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", "openai"),
    ("openai.azure.com", "azure"),
    ("cognitiveservices.azure.com", "azure"),
    ("anthropic.com", "anthropic"),
    ("openrouter.ai", "openrouter"),
    ("deepseek", "deepseek"),
    ("dashscope", "dashscope"),
    ("aliyuncs.com", "dashscope"),
    ("moonshot", "moonshot"),
    ("hunyuan", "tencent"),
    ("tencent", "tencent"),
    ("generativelanguage.googleapis.com", "gemini"),
    ("api.x.ai", "xai"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral"),
    ("api.together.xyz", "together_ai"),
    ("fireworks.ai", "fireworks_ai"),
    ("bigmodel.cn", "zai"),
    ("api.z.ai", "zai"),
)

# What a client of each SDK talks to when its host says nothing (an Anthropic-compatible
# endpoint reports Anthropic-style usage; an unknown OpenAI-compatible server is not OpenAI).
_FAMILY_DEFAULT: dict[str, str | None] = {"anthropic": "anthropic", "openai": None}


def detect_provider(base_url: object, family: str) -> str | None:
    """The provider behind ``base_url`` for a client of SDK ``family`` (``openai`` /
    ``anthropic``); None for an OpenAI-compatible server it does not know (a local model)."""
    try:
        host = (urlsplit(str(base_url)).hostname or "").lower()
    except ValueError:
        host = ""
    for fragment, provider in _HOSTS:
        if fragment in host:
            return provider
    return _FAMILY_DEFAULT.get(family)

"""Which provider a metered request goes to, from its URL (pure).

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

# What an API's host says when it says nothing: an Anthropic-compatible endpoint reports
# Anthropic-style usage, a Gemini-shaped one Gemini's; an unknown OpenAI-compatible server (a
# local model) is not OpenAI.
_API_DEFAULT: dict[str, str] = {"messages": "anthropic", "generate_content": "gemini"}


def detect_provider(url: object, api: str | None = None) -> str | None:
    """The provider behind ``url`` (a URL, or a bare host) for a request to ``api``; None for
    an OpenAI-compatible server it does not know."""
    text = str(url)
    try:
        host = (urlsplit(text).hostname if "//" in text else text.partition(":")[0]) or ""
    except ValueError:
        host = ""
    host = host.lower()
    for fragment, provider in _HOSTS:
        if fragment in host:
            return provider
    return _API_DEFAULT.get(api or "")

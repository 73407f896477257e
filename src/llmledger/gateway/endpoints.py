"""The API endpoints the gateway meters, and what each needs: protocol, usage shape, paths."""

from __future__ import annotations

from dataclasses import dataclass

from llmledger.usage import Normalizer, UsageShape, normalizer_for, openai_embeddings_usage
from llmledger.usage.compat import with_openrouter_cost

__all__ = ["ENDPOINTS", "Endpoint", "find_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    name: str  # request_type default and metrics label: "chat.completions", "messages", ...
    protocol: str  # "openai" or "anthropic"
    path: str  # below the API version: "/chat/completions"
    shape: UsageShape | None  # stream shape; None: never streams
    injects_usage: bool  # streams need stream_options.include_usage for usage

    def normalizer(self, provider: str | None) -> Normalizer:
        """Reads a whole (non-streamed) response body."""
        if self.shape is None:
            if (provider or "").lower() == "openrouter":
                return lambda body: with_openrouter_cost(openai_embeddings_usage(body), body)
            return openai_embeddings_usage
        return normalizer_for(self.shape, provider)

    def upstream_path(self, base_path: str) -> str:
        """The path to append to an upstream's base URL. OpenAI-style base URLs carry the
        version (``…/v1``); Anthropic's usually do not (``https://api.anthropic.com``)."""
        if self.protocol == "anthropic" and not base_path.endswith("/v1"):
            return "/v1" + self.path
        return self.path


ENDPOINTS: dict[str, Endpoint] = {
    "/v1/chat/completions": Endpoint(
        "chat.completions", "openai", "/chat/completions", "openai_chat", True
    ),
    "/v1/completions": Endpoint("completions", "openai", "/completions", "openai_chat", True),
    "/v1/responses": Endpoint("responses", "openai", "/responses", "openai_responses", False),
    "/v1/embeddings": Endpoint("embeddings", "openai", "/embeddings", None, False),
    "/v1/messages": Endpoint("messages", "anthropic", "/messages", "anthropic", False),
}
_SHORT = {path.removeprefix("/v1"): endpoint for path, endpoint in ENDPOINTS.items()}


def find_endpoint(path: str) -> Endpoint | None:
    """The endpoint for a request path, with or without the ``/v1`` prefix."""
    found = ENDPOINTS.get(path)
    if found is None:
        found = _SHORT.get(path.rstrip("/")) or ENDPOINTS.get(path.rstrip("/"))
    return found

"""What a request may use at most, read from its body before it is sent: the estimated prompt
(offline tokenizer, ``estimate.estimate_request_tokens``) and the output it allows itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llmledger.estimate import estimate_request_tokens

__all__ = ["OUTPUT_FIELDS", "RequestBound", "request_bound"]

# The request fields that cap the output, by API, first found wins.
OUTPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "chat.completions": ("max_completion_tokens", "max_tokens"),
    "completions": ("max_tokens",),
    "responses": ("max_output_tokens",),
    "messages": ("max_tokens",),
    "embeddings": (),
}


@dataclass(frozen=True)
class RequestBound:
    input_tokens: int  # estimated
    max_output_tokens: int
    output_given: bool  # the request set its max output (else the configured reserve)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.max_output_tokens


def _whole(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value < 0 or value > 2**53:  # NaN, negative, absurd
        return None
    return int(value)


def request_bound(
    api: str, body: Mapping[str, object], model: str | None, reserve_output: int
) -> RequestBound:
    """The bound of a request to ``api`` (an endpoint name: ``chat.completions``, ``messages``,
    …): its estimated prompt and its max output (``reserve_output`` when it sets none)."""
    prompt = estimate_request_tokens(api, body, model)
    fields = OUTPUT_FIELDS.get(api, ("max_completion_tokens", "max_tokens", "max_output_tokens"))
    if not fields:  # embeddings: no output
        return RequestBound(prompt, 0, True)
    for name in fields:
        found = _whole(body.get(name))
        if found is not None:
            return RequestBound(prompt, found, True)
    return RequestBound(prompt, reserve_output, False)

"""What a request may use and cost at most, read from its body before it is sent: the
estimated prompt (offline tokenizer, ``estimate.estimate_request_tokens``, flagged as an
estimate) and the output it allows itself. The gateway reserves this bound before each upstream
call; ``Ledger.estimate``, ``POST /api/estimate`` and ``llmledger estimate`` show it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmledger.estimate import estimate_request_tokens, tokenizer_name
from llmledger.events import UsageEvent, nanos_to_usd

if TYPE_CHECKING:
    from llmledger.ledger import Ledger

__all__ = ["APIS", "OUTPUT_FIELDS", "RequestBound", "api_of", "estimate_request", "request_bound"]

# The request fields that cap the output, by API, first found wins.
OUTPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "chat.completions": ("max_completion_tokens", "max_tokens"),
    "completions": ("max_tokens",),
    "responses": ("max_output_tokens",),
    "messages": ("max_tokens",),
    "embeddings": (),
}
APIS = tuple(OUTPUT_FIELDS)
DEFAULT_RESERVE_OUTPUT = 4096


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


def api_of(body: Mapping[str, object]) -> str:
    """The API a request body is for: ``messages`` when it has ``system`` or
    ``anthropic_version``, ``responses`` when it has ``input`` (no ``messages``), else
    ``chat.completions``."""
    if body.get("system") is not None or body.get("anthropic_version") is not None:
        return "messages"
    if body.get("input") is not None and body.get("messages") is None:
        return "responses"
    return "chat.completions"


def _usd(nanos: int | None) -> float | None:
    return None if nanos is None else float(nanos_to_usd(nanos))


def estimate_request(
    ledger: Ledger,
    request: Mapping[str, Any],
    *,
    api: str | None = None,
    user_id: str | None = None,
    org_id: str | None = None,
    key_id: str | None = None,
    check_quotas: bool = True,
    reserve_output_tokens: int = DEFAULT_RESERVE_OUTPUT,
) -> dict[str, Any]:
    """See ``Ledger.estimate``."""
    from llmledger.quota.admission import Estimate
    from llmledger.quota.limits import Subject

    model = request.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("the request needs a 'model'")
    api = api or api_of(request)
    if api not in OUTPUT_FIELDS:
        raise ValueError(f"api must be one of {', '.join(APIS)}, got {api!r}")
    bound = request_bound(api, request, model, reserve_output_tokens)
    low = UsageEvent(model=model, input_tokens=bound.input_tokens)
    high = UsageEvent(
        model=model, input_tokens=bound.input_tokens, output_tokens=bound.max_output_tokens
    )
    ledger.prices.price_event(low)
    ledger.prices.price_event(high)
    refusal = None
    if check_quotas and (user_id or org_id):
        who = Subject(user_id, org_id, key_id, model)
        found = ledger.quotas.would_admit(who, Estimate(bound.tokens, high.cost_nanos or 0))
        refusal = None if found is None else found.error()["error"]
    return {
        "model": model,
        "api": api,
        "inputTokens": bound.input_tokens,
        "estimated": True,
        "estimator": tokenizer_name(),
        "maxOutputTokens": bound.max_output_tokens,
        "outputGiven": bound.output_given,
        "costMin": _usd(low.cost_nanos),
        "costMax": _usd(high.cost_nanos),
        "admitted": refusal is None,
        "refusal": refusal,
    }

"""The usage API's bodies and answers as msgspec Structs: bodies are decoded (and validated:
types, bounds, unknown fields) with them, and the OpenAPI schema is generated from all of them.
Answers are built as plain dicts; ``tests/gateway/test_usage_api*`` and schemathesis hold
them to these shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "AddonBody",
    "AssignmentBody",
    "BudgetBody",
    "EstimateBody",
    "KeyBody",
    "SimulateBody",
]

MAX_ADDON_TOKENS = 10**12
MAX_SIMULATED_TOKENS = 10**9
MAX_SCENARIOS = 20

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]
Note = Annotated[str, msgspec.Meta(max_length=500)]
Tokens = Annotated[int, msgspec.Meta(gt=0, le=MAX_ADDON_TOKENS)]
SimulatedTokens = Annotated[int, msgspec.Meta(gt=0, le=MAX_SIMULATED_TOKENS)]
Number = int | float


class _Body(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


# -- bodies ------------------------------------------------------------------------------------


class SimulateBody(_Body):
    """``{"tokens": 1000}``, or a list of amounts recorded one after the other."""

    tokens: (
        SimulatedTokens
        | Annotated[list[SimulatedTokens], msgspec.Meta(min_length=1, max_length=MAX_SCENARIOS)]
    )
    user_id: Id | None = None


class AddonBody(_Body):
    """Add-on tokens for a user or an org; ``id`` makes the grant idempotent."""

    tokens: Tokens
    user_id: Id | None = None
    org_id: Id | None = None
    id: Id | None = None
    expires_at: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    note: Note | None = None


class AssignmentBody(_Body):
    """Put a user or an org on a plan (``plan`` null: back to the default plan)."""

    plan: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None
    user_id: Id | None = None
    org_id: Id | None = None


class BudgetBody(_Body):
    """A budget: tokens and/or USD for a key, user, org or model over a window."""

    scope: Literal["key", "user", "org", "model"]
    scope_id: Id
    window: Literal["day", "week", "month", "total"]
    tokens: Tokens | None = None
    usd: Annotated[float, msgspec.Meta(gt=0, le=10**9)] | None = None
    id: Id | None = None
    hard: bool = True
    thresholds: (
        Annotated[
            list[Annotated[int, msgspec.Meta(ge=1, le=1000)]],
            msgspec.Meta(max_length=10),
        ]
        | None
    ) = None
    note: Note | None = None


class KeyBody(_Body):
    """A new ledger key for a user."""

    user_id: Id
    org_id: Id | None = None
    project: Id | None = None
    name: Id | None = None


Api = Literal["chat.completions", "completions", "responses", "messages", "embeddings"]
OutputTokens = Annotated[int, msgspec.Meta(ge=0, le=10**9)]


class EstimateBody(msgspec.Struct, omit_defaults=True):
    """A request as the client would send it (other fields are ignored); ``api`` names the
    endpoint it is for (default: ``messages`` when it has ``system`` or ``anthropic_version``,
    ``responses`` when it has ``input``, else ``chat.completions``)."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    api: Api | None = None
    messages: list[Any] | None = None
    input: Any = None
    prompt: Any = None
    system: Any = None
    instructions: Any = None
    tools: list[Any] | None = None
    max_tokens: OutputTokens | None = None
    max_completion_tokens: OutputTokens | None = None
    max_output_tokens: OutputTokens | None = None


# -- answers (for the schema) ------------------------------------------------------------------


class MeterSummary(msgspec.Struct):
    month: str
    used: Number
    limit: Number
    remaining: Number
    percent: Number
    addOn: Number
    plan: str
    unit: Literal["tokens", "usd"]
    resetsAt: str
    overage: Number
    hasAccess: bool


class UsageAnswer(msgspec.Struct):
    summary: MeterSummary


class HistoryRow(msgspec.Struct):
    key: str
    inputTokens: int
    outputTokens: int
    cacheCreationTokens: int
    cacheReadTokens: int
    totalTokens: int
    totalCost: float
    reasoningTokens: int
    cacheWrite1hTokens: int
    requests: int
    unpricedRequests: int
    estimatedRequests: int


class HistoryTotals(msgspec.Struct):
    inputTokens: int
    outputTokens: int
    cacheCreationTokens: int
    cacheReadTokens: int
    totalTokens: int
    totalCost: float
    reasoningTokens: int
    cacheWrite1hTokens: int
    requests: int
    unpricedRequests: int
    estimatedRequests: int


class HistoryAnswer(msgspec.Struct):
    by: Literal["day", "model", "provider", "key"]
    since: str | None
    until: str | None
    timezone: str
    rows: list[HistoryRow]
    totals: HistoryTotals


class BudgetRow(msgspec.Struct):
    id: str
    scope: str
    scopeId: str
    window: str
    windowKey: str
    unit: Literal["tokens", "usd"]
    limit: Number
    used: Number
    remaining: Number
    percent: Number
    resetsAt: str | None
    hard: bool
    thresholds: list[int]
    note: str | None


class BudgetsAnswer(msgspec.Struct):
    budgets: list[BudgetRow]


class BudgetCreated(msgspec.Struct):
    budget: BudgetRow


class AlertRow(msgspec.Struct):
    limitKey: str
    window: str
    threshold: int
    firedAt: str
    resolvedAt: str | None
    open: bool


class AlertsAnswer(msgspec.Struct):
    alerts: list[AlertRow]


class Refused(msgspec.Struct):
    type: str
    message: str
    limit: Number
    used: Number
    resets_at: str | None


class EstimateAnswer(msgspec.Struct):
    model: str
    api: str
    inputTokens: int
    estimated: bool
    estimator: str
    maxOutputTokens: int
    outputGiven: bool
    costMin: float | None
    costMax: float | None
    admitted: bool
    refusal: Refused | None


class SimulateStep(msgspec.Struct):
    tokens: int
    summary: MeterSummary


class SimulateAnswer(msgspec.Struct):
    ok: bool
    message: str
    tokensAdded: int
    summary: MeterSummary
    steps: list[SimulateStep]


class PlanInfo(msgspec.Struct):
    tokens: int
    usd: float
    multiplier: float
    overage: Literal["block", "allow"]


class PlansAnswer(msgspec.Struct):
    defaultPlan: str
    counts: str
    timezone: str
    rollover: bool
    plans: dict[str, PlanInfo]


class AssignmentsAnswer(msgspec.Struct):
    assignments: dict[str, str]


class AssignmentAnswer(msgspec.Struct):
    subject: str
    plan: str | None


class AddonRow(msgspec.Struct):
    id: str
    subject: str
    tokens: int
    grantedAt: str
    expiresAt: str | None
    note: str | None


class AddonsAnswer(msgspec.Struct):
    addons: list[AddonRow]


class AddonCreated(msgspec.Struct):
    addon: AddonRow
    created: bool


class KeyRow(msgspec.Struct):
    id: str
    prefix: str
    userId: str
    orgId: str | None
    project: str | None
    name: str | None
    createdAt: str
    revokedAt: str | None
    active: bool


class KeysAnswer(msgspec.Struct):
    keys: list[KeyRow]


class KeyCreated(msgspec.Struct):
    key: str
    record: KeyRow


class Revoked(msgspec.Struct):
    id: str
    revoked: bool


class Removed(msgspec.Struct):
    id: str
    removed: bool


class MeterRow(msgspec.Struct):
    subject: str
    month: str
    used: Number
    limit: Number
    remaining: Number
    percent: Number
    addOn: Number
    plan: str
    unit: Literal["tokens", "usd"]
    resetsAt: str
    overage: Number
    hasAccess: bool


class MetersAnswer(msgspec.Struct):
    meters: list[MeterRow]
    total: int
    limit: int
    offset: int


class ErrorDetail(msgspec.Struct):
    message: str
    type: str
    param: str | None
    code: str


class ErrorAnswer(msgspec.Struct):
    error: ErrorDetail

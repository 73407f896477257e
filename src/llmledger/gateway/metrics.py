"""Prometheus metrics of the gateway, in the text exposition format, with bounded labels.

Label values that come from clients (models, users) are capped: the first ``label_limit``
distinct values keep their name, later ones are counted under ``"other"``, so a client cannot
blow up the scrape by inventing names. Accounts come from the config and are bounded already.
Per-user series exist only when the operator turns them on (``metrics_user_labels``): user ids
are not for everyone who can scrape.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable

from llmledger.events import TOKEN_FIELDS, UsageEvent

__all__ = ["Counter", "GatewayMetrics", "Histogram", "LabelGuard"]

OTHER = "other"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
_TOKEN_TYPES = tuple(name.removesuffix("_tokens") for name in TOKEN_FIELDS)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values))
    return "{" + inner + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class LabelGuard:
    """Keeps at most ``limit`` distinct values of one label; the rest become ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return "none"
        if value in self._seen:
            return value
        if len(self._seen) >= self.limit:
            return OTHER
        self._seen.add(value)
        return value


class Counter:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labels = name, help_text, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, labels: tuple[str, ...] = (), amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labels, labels)} {_number(value)}"


class Histogram:
    def __init__(
        self, name: str, help_text: str, buckets: tuple[float, ...], labels: tuple[str, ...] = ()
    ) -> None:
        self.name, self.help, self.buckets, self.labels = name, help_text, buckets, labels
        self.series: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., sum, count

    def observe(self, value: float, labels: tuple[str, ...] = ()) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self.buckets) + 3)
        series[bisect_left(self.buckets, value)] += 1
        series[-2] += value
        series[-1] += 1

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        names = (*self.labels, "le")
        for labels, series in sorted(self.series.items()):
            running = 0.0
            for bound, count in zip(self.buckets, series):
                running += count
                bucket = _labels(names, (*labels, repr(bound)))
                yield f"{self.name}_bucket{bucket} {_number(running)}"
            yield f"{self.name}_bucket{_labels(names, (*labels, '+Inf'))} {_number(series[-1])}"
            yield f"{self.name}_sum{_labels(self.labels, labels)} {series[-2]!r}"
            yield f"{self.name}_count{_labels(self.labels, labels)} {_number(series[-1])}"


class GatewayMetrics:
    """Every metric the gateway exposes on ``/metrics``."""

    def __init__(self, label_limit: int = 100, *, user_labels: bool = False) -> None:
        self.user_labels = user_labels
        self.models = LabelGuard(label_limit)
        self.users = LabelGuard(label_limit)
        self.requests = Counter(
            "llmledger_gateway_requests_total",
            "API requests handled, by endpoint, model, upstream account and status.",
            ("endpoint", "model", "account", "status"),
        )
        self.tokens = Counter(
            "llmledger_gateway_tokens_total",
            "Tokens metered, by type (input is fresh input; output includes reasoning).",
            ("model", "account", "type"),
        )
        self.cost = Counter(
            "llmledger_gateway_cost_usd_total", "Cost metered in USD.", ("model", "account")
        )
        self.user_requests = Counter(
            "llmledger_gateway_user_requests_total", "API requests by user.", ("user",)
        )
        self.user_tokens = Counter(
            "llmledger_gateway_user_tokens_total", "Tokens metered by user.", ("user",)
        )
        self.user_cost = Counter(
            "llmledger_gateway_user_cost_usd_total", "Cost metered in USD by user.", ("user",)
        )
        self.attempts = Counter(
            "llmledger_gateway_upstream_attempts_total",
            "Requests sent to upstream accounts, by outcome.",
            ("account", "outcome"),
        )
        self.rejected = Counter(
            "llmledger_gateway_rejected_total",
            "Requests answered by the gateway itself, by reason.",
            ("reason",),
        )
        self.upstream_latency = Histogram(
            "llmledger_gateway_upstream_latency_seconds",
            "Time from sending a request upstream to its complete response.",
            LATENCY_BUCKETS,
            ("upstream",),
        )
        self.overhead = Histogram(
            "llmledger_gateway_overhead_seconds",
            "Time the gateway added to a request: total minus the upstream's time.",
            OVERHEAD_BUCKETS,
        )
        self.gauges: list[
            tuple[str, str, Callable[[], Iterable[tuple[dict[str, str], float]]]]
        ] = []

    def gauge(
        self,
        name: str,
        help_text: str,
        read: Callable[[], Iterable[tuple[dict[str, str], float]]],
    ) -> None:
        """A gauge read at scrape time: ``read`` yields (labels, value) pairs."""
        self.gauges.append((name, help_text, read))

    def record(self, event: UsageEvent, endpoint: str, upstream: str | None) -> None:
        model = self.models(event.model)
        account = event.account or "none"
        self.requests.inc((endpoint, model, account, event.status or "none"))
        per_user = self.user_labels
        user = self.users(event.user_id) if per_user else ""
        if per_user:
            self.user_requests.inc((user,))
        total = event.total_tokens
        if total:
            for kind, name in zip(_TOKEN_TYPES, TOKEN_FIELDS):
                value = getattr(event, name)
                if value:
                    self.tokens.inc((model, account, kind), value)
            if per_user:
                self.user_tokens.inc((user,), total)
        if event.cost_nanos:
            usd = event.cost_nanos / 1e9
            self.cost.inc((model, account), usd)
            if per_user:
                self.user_cost.inc((user,), usd)

    def render(self) -> bytes:
        lines: list[str] = []
        users = (self.user_requests, self.user_tokens, self.user_cost) if self.user_labels else ()
        metrics: tuple[Counter | Histogram, ...] = (
            self.requests,
            self.tokens,
            self.cost,
            *users,
            self.attempts,
            self.rejected,
            self.upstream_latency,
            self.overhead,
        )
        for metric in metrics:
            lines.extend(metric.render())
        for name, help_text, read in self.gauges:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
            for labels, value in read():
                names = tuple(labels)
                values = tuple(labels[n] for n in names)
                lines.append(f"{name}{_labels(names, values)} {_number(value)}")
        lines.append("")
        return "\n".join(lines).encode()

"""An alert and the payloads each channel sends. The id is stable: the same alert found twice
(by two processes, or by the gateway and by ``alerts watch``) has the same id, so it is
delivered once per channel and a receiver can de-duplicate on it too."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

from llmledger.quota.alerts import AlertEvent
from llmledger.quota.records import AlertState

Severity = Literal["info", "warning", "critical"]

__all__ = [
    "Alert",
    "Severity",
    "from_quota_event",
    "from_quota_state",
    "make_test_alert",
    "slack_payload",
    "telegram_text",
    "webhook_payload",
]


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Alert:
    id: str
    kind: str  # quota.fired, quota.resolved, anomaly.spend_spike, anomaly.unpriced_model, …
    severity: Severity
    title: str
    message: str
    at: datetime
    details: Mapping[str, object] = field(default_factory=dict)


def _quota_id(limit_key: str, window: str, threshold: int, state: str, at: datetime) -> str:
    return f"quota:{limit_key}:{window}:{threshold}:{state}:{at:%Y%m%dT%H%M%SZ}"


def from_quota_event(event: AlertEvent) -> Alert:
    """A plan or budget threshold the quota layer fired or resolved (quota/alerts.py)."""
    at = event.at.astimezone(timezone.utc)
    what = f"plan {event.name}" if event.kind == "plan" else f"budget {event.name}"
    if event.state == "fired":
        title = f"{event.subject} reached {event.threshold}% of {what}"
        severity: Severity = "critical" if event.threshold >= 100 else "warning"
    else:
        title = f"{event.subject} is below {event.threshold}% of {what} again"
        severity = "info"
    return Alert(
        id=_quota_id(event.limit_key, event.window, event.threshold, event.state, at),
        kind=f"quota.{event.state}",
        severity=severity,
        title=title,
        message=event.message,
        at=at,
        details=event.to_dict(),
    )


def from_quota_state(state: AlertState) -> Alert:
    """The same alert read back from its stored state (what ``alerts watch`` sees): fired,
    or resolved when the state says so. Ids match ``from_quota_event``'s."""
    resolved = state.resolved_at is not None
    at = (state.resolved_at if state.resolved_at is not None else state.fired_at).astimezone(
        timezone.utc
    )
    kind = "resolved" if resolved else "fired"
    parts = state.limit_key.split(":")
    if parts[0] == "budget" and len(parts) >= 2:  # "budget:<id>:tokens" / ":usd"
        who, what = f"budget {parts[1]}", "its limit"
    else:  # "plan:user:u1" / "plan:org:o1"
        who, what = ":".join(parts[1:]) or state.limit_key, "its plan"
    percent = round(state.used * 100 / state.limit, 1) if state.limit else 0
    if resolved:
        title = f"{who} is below {state.threshold}% of {what} again"
        severity: Severity = "info"
    else:
        title = f"{who} reached {state.threshold}% of {what}"
        severity = "critical" if state.threshold >= 100 else "warning"
    return Alert(
        id=_quota_id(state.limit_key, state.window, state.threshold, kind, at),
        kind=f"quota.{kind}",
        severity=severity,
        title=title,
        message=f"{title} in {state.window} ({percent:g}% used)",
        at=at,
        details={
            "state": kind,
            "limitKey": state.limit_key,
            "window": state.window,
            "threshold": state.threshold,
            "percent": percent,
        },
    )


def make_test_alert(at: datetime) -> Alert:
    """What ``llmledger alerts test`` sends."""
    return Alert(
        id=f"test:{at:%Y%m%dT%H%M%S%fZ}",
        kind="test",
        severity="info",
        title="llmledger test alert",
        message="If you can read this, alerts reach this channel.",
        at=at.astimezone(timezone.utc),
    )


def webhook_payload(alert: Alert) -> dict[str, object]:
    """The generic webhook's JSON body (signed; see channels.WebhookChannel)."""
    return {
        "id": alert.id,
        "type": alert.kind,
        "severity": alert.severity,
        "title": alert.title,
        "message": alert.message,
        "at": stamp(alert.at),
        "source": "llmledger",
        "details": dict(alert.details),
    }


_ICON = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}


def slack_payload(alert: Alert) -> dict[str, object]:
    """A Slack incoming-webhook body (``text`` for notifications, ``blocks`` to show)."""
    icon = _ICON[alert.severity]
    return {
        "text": f"{icon} {alert.title}",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{icon} *{alert.title}*\n{alert.message}"},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{alert.kind} · {stamp(alert.at)} · `{alert.id}`",
                    }
                ],
            },
        ],
    }


def telegram_text(alert: Alert) -> str:
    """The Telegram message (HTML parse mode)."""
    escape = html.escape
    return (
        f"{_ICON[alert.severity]} <b>{escape(alert.title)}</b>\n{escape(alert.message)}\n"
        f"<code>{escape(alert.kind)} · {stamp(alert.at)}</code>"
    )

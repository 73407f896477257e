"""``alerts``: deliver alerts to the configured channels (docs/alerts.md): ``test`` sends a test
alert to every channel, ``check`` finds and delivers alerts once (cron), ``watch`` keeps
checking."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from llmledger.cli.common import Parents, emit, load_cli_config, open_ledger
from llmledger.errors import ConfigError, LedgerError

if TYPE_CHECKING:
    from llmledger.alerts.delivery import AlertDispatcher, DeliveryResult
    from llmledger.alerts.settings import AlertSettings
    from llmledger.alerts.watch import AlertWatch

DESCRIPTION = """\
Alerts to the channels under [[alerts.channels]] in the config: a JSON webhook
signed with HMAC-SHA256, a Slack-compatible webhook, the Telegram admin chat.
Budget and plan thresholds (from [quotas] and [plans]) and anomalies (a spend
spike, a model without a price, an upstream account failing) are each delivered
once per channel, retried with backoff, and written to the dead-letter log when
a channel keeps failing. llmledger serve delivers them by itself too.
"""

EPILOG = """\
examples:
  llmledger alerts test                  a test alert to every channel
  llmledger alerts check --dry-run       what would be sent now, sent nowhere
  llmledger alerts watch --interval 30   check and deliver until Ctrl-C
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "alerts",
        help="send alerts to webhooks, Slack and Telegram: test, check, watch",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    test = actions.add_parser(
        "test",
        help="send a test alert to every configured channel",
        parents=[parents.globals],
    )
    test.add_argument("--json", action="store_true", help="the results as JSON")
    test.set_defaults(handler=run_test, ledger_access="read")
    check = actions.add_parser(
        "check", help="find alerts now and deliver them once", parents=[parents.globals]
    )
    check.add_argument("--dry-run", action="store_true", help="print the alerts, send nothing")
    check.add_argument("--json", action="store_true", help="the alerts and results as JSON")
    check.set_defaults(handler=run_check, ledger_access="read")
    watch = actions.add_parser(
        "watch", help="check and deliver every --interval seconds", parents=[parents.globals]
    )
    watch.add_argument(
        "--interval", type=float, default=30.0, metavar="S", help="seconds between checks (30)"
    )
    watch.set_defaults(handler=run_watch, ledger_access="read")


def _settings(args: argparse.Namespace, need_channels: bool = True) -> AlertSettings:
    from llmledger.alerts.settings import alert_settings

    settings = alert_settings(load_cli_config(args), os.environ)
    if need_channels and not settings.channels:
        raise ConfigError(
            "no alert channels: add [[alerts.channels]] to the config (see docs/alerts.md)"
        )
    return settings


def _dispatcher(settings: AlertSettings) -> AlertDispatcher:
    from llmledger.alerts.delivery import AlertDispatcher, DeliveryLog

    return AlertDispatcher(
        settings.channels, policy=settings.policy, record=DeliveryLog(settings.state_dir)
    )


def _result_lines(results: list[DeliveryResult]) -> list[str]:
    width = max((len(r.channel) for r in results), default=0)
    lines = []
    for r in results:
        if r.duplicate:
            said = "already delivered"
        elif r.delivered:
            said = f"delivered ({r.attempts} attempt{'s' if r.attempts != 1 else ''})"
        else:
            said = f"FAILED after {r.attempts} attempt(s): {r.error}"
        lines.append(f"{r.channel:<{width}}  {r.alert_id}  {said}")
    return lines


def _failures(results: list[DeliveryResult], settings: AlertSettings) -> None:
    failed = [r for r in results if not r.delivered and not r.duplicate]
    if failed:
        where = settings.state_dir / "dead-letter.jsonl" if settings.state_dir else None
        raise LedgerError(
            f"{len(failed)} delivery(ies) failed"
            + (f"; they are in the dead-letter log {where}" if where else "")
        )


def run_test(args: argparse.Namespace) -> int:
    from llmledger.alerts.model import make_test_alert

    settings = _settings(args)
    alert = make_test_alert(datetime.now(timezone.utc))
    results = asyncio.run(_dispatcher(settings).deliver([alert]))
    if args.json:
        emit(json.dumps({"results": [r.to_dict() for r in results]}, indent=2))
    else:
        emit("\n".join(_result_lines(results)))
    _failures(results, settings)
    return 0


def run_check(args: argparse.Namespace) -> int:
    from llmledger.alerts.model import webhook_payload
    from llmledger.alerts.watch import AlertWatch

    settings = _settings(args, need_channels=not args.dry_run)
    with open_ledger(args) as ledger:
        watch = AlertWatch(ledger, settings, _dispatcher(settings))
        alerts = watch.find()
        results = [] if args.dry_run else asyncio.run(watch.dispatcher.deliver(alerts))
    if args.json:
        emit(
            json.dumps(
                {
                    "alerts": [webhook_payload(a) for a in alerts],
                    "results": [r.to_dict() for r in results],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    elif args.dry_run:
        emit(
            "\n".join(f"{a.severity:<8}  {a.title}\n          {a.message}" for a in alerts)
            or "no alerts now"
        )
    else:
        emit("\n".join(_result_lines(results)) or "no alerts now")
    _failures(results, settings)
    return 0


def run_watch(args: argparse.Namespace) -> int:
    from llmledger.alerts.watch import AlertWatch

    settings = _settings(args)
    with open_ledger(args) as ledger:
        watch = AlertWatch(ledger, settings, _dispatcher(settings))
        asyncio.run(_until_signal(watch, args.interval))
    return 0


async def _until_signal(watch: AlertWatch, interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await watch.run(stop, interval)

"""``estimate``: what a request would use and cost before it is sent (``Ledger.estimate``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmledger.cli.common import Parents, UsageError, emit, open_ledger
from llmledger.errors import FileError
from llmledger.request_estimate import APIS

EPILOG = """\
examples:
  llmledger estimate --model gpt-4o-mini request.json
  llmledger estimate --model claude-sonnet-4-5 --api messages --user u1 - < body.json
  (FILE is a request body as the client would send it: messages or input, max output)
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "estimate",
        help="estimate a request's tokens and cost before sending it",
        description="Estimate a request before it is sent: its input tokens (offline "
        "tokenizer, an estimate), its max output, the cost range, and with --user or --org "
        "whether their plan and budgets would admit it now.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument("file", metavar="FILE", help="the request body as JSON ('-': stdin)")
    parser.add_argument("--model", help="the model (default: the body's 'model')")
    parser.add_argument("--api", choices=APIS, help="the endpoint it is for (default: guessed)")
    parser.add_argument("--user", dest="user_id", help="check this user's plan and budgets")
    parser.add_argument("--org", dest="org_id", help="check this org's plan and budgets")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.set_defaults(handler=run_estimate, ledger_access="read")


def _body(path: str) -> dict[str, Any]:
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except OSError as exc:
        raise FileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UsageError(f"{path} must hold a JSON object (a request body)")
    return body


def _usd(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:,.6f}"


def run_estimate(args: argparse.Namespace) -> int:
    body = _body(args.file)
    if args.model:
        body["model"] = args.model
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise UsageError("name the model: --model M, or 'model' in the body")
    with open_ledger(args) as ledger:
        found = ledger.estimate(body, api=args.api, user_id=args.user_id, org_id=args.org_id)
    if args.json:
        emit(json.dumps(found, indent=2))
        return 0
    given = "" if found["outputGiven"] else " (none set: the reserve)"
    lines = [
        f"model          {found['model']} ({found['api']})",
        f"input tokens   {found['inputTokens']:,} (estimated, {found['estimator']})",
        f"max output     {found['maxOutputTokens']:,}{given}",
        f"cost           {_usd(found['costMin'])} to {_usd(found['costMax'])}",
    ]
    if args.user_id or args.org_id:
        refusal = found["refusal"]
        lines.append(
            "admitted now   " + ("yes" if refusal is None else f"no: {refusal['message']}")
        )
    emit("\n".join(lines))
    return 0

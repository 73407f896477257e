"""``serve``: run the metering gateway (an OpenAI- and Anthropic-compatible proxy)."""

from __future__ import annotations

import argparse
from typing import Any

from llmledger.cli.common import Parents, open_ledger
from llmledger.errors import LedgerError

SERVE_EPILOG = """\
The upstreams come from the config file (--config, LLMLEDGER_CONFIG, or config.toml in the
data dir):

  [[upstreams]]
  name = "openai"
  protocol = "openai"                  # or "anthropic"
  base_url = "https://api.openai.com/v1"
  models = ["gpt-*", "o*"]             # names or glob patterns
    [[upstreams.accounts]]
    name = "main"
    api_key_env = "OPENAI_API_KEY"     # or api_key_file = "/path/to/key"
    daily_request_cap = 2000           # optional

Clients authenticate with ledger keys: llmledger keys create --user alice
"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the metering gateway",
        description="Run the metering gateway: an OpenAI-compatible (/v1/chat/completions, "
        "/v1/completions, /v1/responses, /v1/embeddings, /v1/models) and Anthropic-compatible "
        "(/v1/messages) proxy that records every request's usage in the ledger before the "
        "response ends, rotates upstream accounts and enforces their daily caps.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, help="port to bind (default 4000; 0 picks one)")
    parser.set_defaults(handler=run_serve)


_NEEDED = ("uvicorn", "starlette", "aiohttp")


def run_serve(args: argparse.Namespace) -> int:
    try:
        from llmledger.gateway.server import ServeOptions, serve
    except ModuleNotFoundError as exc:
        if exc.name in _NEEDED:
            raise LedgerError(
                f"serve needs the package {exc.name!r}, which is not installed; "
                "reinstall llmledger with its dependencies: pip install --force-reinstall llmledger"
            ) from None
        raise

    ledger = open_ledger(args)
    try:
        return serve(ledger, ServeOptions(host=args.host, port=args.port))
    except BaseException:
        ledger.close()
        raise

"""``keys``: issue, list and revoke the ledger keys clients use with the gateway."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from llmledger.cli.common import Parents, UsageError, emit, open_ledger


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "keys",
        help="manage the gateway's ledger keys",
        description="Ledger keys authenticate clients of 'llmledger serve' and attribute their "
        "usage to a user, org and project. Keys are stored hashed: a key is shown once, "
        "when it is created.",
        parents=[parents.globals],
    )
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True

    create = sub.add_parser(
        "create",
        help="issue a new key (printed alone on the last line)",
        parents=[parents.globals],
    )
    create.add_argument("--user", required=True, help="user the key's usage is attributed to")
    create.add_argument("--org", help="organisation")
    create.add_argument("--project", help="project")
    create.add_argument("--name", help="a label to recognise the key by")
    create.set_defaults(handler=run_create)

    listing = sub.add_parser(
        "list", help="list keys (never the keys themselves)", parents=[parents.globals]
    )
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true", help="JSON output")
    listing.set_defaults(handler=run_list)

    revoke = sub.add_parser("revoke", help="revoke a key by its id", parents=[parents.globals])
    revoke.add_argument("key_id", metavar="KEY_ID", help="the id shown by 'keys list' (key_…)")
    revoke.set_defaults(handler=run_revoke)


def _text(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 256 or not value.isprintable():
        raise UsageError(f"{option} must be 1-256 printable characters")
    return value


def run_create(args: argparse.Namespace) -> int:
    from llmledger.gateway.keys import issue_key

    user = _text(args.user, "--user")
    assert user is not None
    with open_ledger(args) as ledger:
        key, record = issue_key(
            ledger.keys,
            user_id=user,
            org_id=_text(args.org, "--org"),
            project=_text(args.project, "--project"),
            name=_text(args.name, "--name"),
        )
    who = ", ".join(
        f"{label} {value}"
        for label, value in (
            ("user", record.user_id),
            ("org", record.org_id),
            ("project", record.project),
        )
        if value
    )
    emit(f"created key {record.id} for {who}; store it now, it is not shown again:")
    emit(key)
    return 0


def _when(us: int | None) -> str:
    if us is None:
        return ""
    return datetime.fromtimestamp(us / 1_000_000, timezone.utc).strftime("%Y-%m-%d %H:%M")


def run_list(args: argparse.Namespace) -> int:
    with open_ledger(args) as ledger:
        records = ledger.keys.all(include_revoked=args.all)
    if args.json:
        import msgspec

        rows = [
            {
                "id": r.id,
                "prefix": r.prefix,
                "user": r.user_id,
                "org": r.org_id,
                "project": r.project,
                "name": r.name,
                "created": _when(r.created_at),
                "revoked": _when(r.revoked_at) or None,
            }
            for r in records
        ]
        emit(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode())
        return 0
    if not records:
        emit("no keys yet: llmledger keys create --user USER")
        return 0
    header = ("ID", "PREFIX", "USER", "ORG", "PROJECT", "NAME", "CREATED", "REVOKED")
    rows_text = [
        (
            r.id,
            r.prefix + "…",
            r.user_id,
            r.org_id or "",
            r.project or "",
            r.name or "",
            _when(r.created_at),
            _when(r.revoked_at),
        )
        for r in records
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows_text)) for i in range(len(header))]
    for row in (header, *rows_text):
        emit("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from llmledger.errors import LedgerError

    with open_ledger(args) as ledger:
        if not ledger.keys.revoke(args.key_id):
            known = ledger.keys.get(args.key_id)
            if known is not None:
                raise LedgerError(f"key {args.key_id} is already revoked")
            raise LedgerError(f"no key with id {args.key_id!r}: see 'llmledger keys list'")
    emit(f"revoked key {args.key_id}; the gateway stops accepting it within seconds")
    return 0

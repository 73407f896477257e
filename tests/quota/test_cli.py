"""The quota commands, whole outputs compared: plans, addons, budgets, usage (a bar, used of
the limit, the plan, add-ons, the reset), --json everywhere, tables in 80 columns, one-line
errors for bad input; and ``--exclude-source`` on the reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.quota.periods import month_at


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Any:
    db = tmp_path / "ledger.db"
    Ledger(db).close()

    def invoke(*argv: str) -> Run:
        code = main([*argv, "--db", str(db)])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    invoke.db = db  # type: ignore[attr-defined]
    return invoke


def this_month() -> tuple[str, str, str]:
    """This month's key, the day it resets (UTC) and today, as the commands print them."""
    now = datetime.now(timezone.utc)
    month = month_at(now, timezone.utc)  # type: ignore[arg-type]
    return month.key, month.end.date().isoformat(), now.date().isoformat()


def record(db: Path, user: str, tokens: int, source: str = "manual") -> None:
    with Ledger(db) as ledger:
        ledger.record_user_tokens(user, tokens, source=source)


def test_plans_list_show_set_and_unset(run: Any) -> None:
    listed = run("plans", "list")
    assert (listed.code, listed.err) == (0, "")
    assert listed.out == (
        "PLAN        TOKENS/MONTH  MULTIPLIER  OVERAGE  USERS  ORGS\n"
        "hobby *           50,000           1  block        0     0\n"
        "starter        2,500,000           1  block        0     0\n"
        "business       5,000,000           1  block        0     0\n"
        "enterprise    10,000,000           1  block        0     0\n"
        "* the default plan, for users and orgs without one\n"
        "months: calendar months in UTC\n"
        "counted: total tokens (input, output, cache reads and writes)\n"
    )
    assert run("plans", "set", "--user", "alice", "--plan", "starter").out == (
        "user alice is now on plan starter (2,500,000 tokens a month)\n"
    )
    assert run("plans", "set", "--org", "acme", "--plan", "starter").code == 0
    shown = run("plans", "show", "starter")
    assert shown.out == (
        "plan starter\n"
        "  allowance   2,500,000 tokens a month (calendar months in UTC)\n"
        "  counted     total tokens (input, output, cache reads and writes)\n"
        "  multiplier  1 (counted units = tokens x it, rounded up)\n"
        "  overage     block: requests are refused once the month's allowance is used\n"
        "  on it       org acme, user alice\n"
    )
    assert run("plans", "show", "starter", "--json").json() == {
        "name": "starter",
        "tokens": 2_500_000,
        "usd": 0.0,
        "multiplier": 1.0,
        "overage": "block",
        "default": False,
        "users": ["alice"],
        "orgs": ["acme"],
    }
    data = run("plans", "list", "--json").json()
    assert (data["defaultPlan"], data["timezone"], data["counts"]) == ("hobby", "UTC", "total")
    assert [p["name"] for p in data["plans"]] == ["hobby", "starter", "business", "enterprise"]
    assert run("plans", "unset", "--user", "alice").out == (
        "user alice is on the default plan hobby again\n"
    )
    assert "starter        2,500,000           1  block        0     1" in run("plans", "list").out


def test_plan_mistakes_are_one_line(run: Any) -> None:
    for argv, code, message in [
        (("plans", "set", "--user", "a", "--plan", "gold"), 2, "no plan named 'gold'; plans: "
         "hobby, starter, business, enterprise"),
        (("plans", "show", "gold"), 2, "no plan named 'gold'"),
        (("plans", "set", "--plan", "hobby"), 2, "one of the arguments --user --org is required"),
        (("plans", "set", "--user", "a", "--org", "b", "--plan", "hobby"), 2,
         "argument --org: not allowed with argument --user"),
        (("plans", "set", "--user", " ", "--plan", "hobby"), 2,
         "--user must be 1-256 printable characters"),
    ]:  # fmt: skip
        result = run(*argv)
        assert result.code == code, result.err
        assert result.err.count("\n") == 1 and result.err.startswith("llmledger: error: ")
        assert message in result.err


def test_addons_add_list_and_idempotent_ids(run: Any) -> None:
    month, _, today = this_month()
    granted = run("addons", "add", "--user", "alice", "--tokens", "50,000", "--id", "buy-1",
                  "--expires", "2999-12-31", "--note", "annual pack")  # fmt: skip
    assert granted.out == (
        "granted 50,000 tokens to user alice (add-on buy-1, counts through 2999-12-31)\n"
    )
    again = run("addons", "add", "--user", "alice", "--tokens", "50000", "--id", "buy-1",
                "--expires", "2999-12-31", "--note", "annual pack")  # fmt: skip
    assert again.out == (
        "add-on buy-1 was granted already (50,000 tokens to user alice): nothing changed\n"
    )
    conflict = run("addons", "add", "--user", "bob", "--tokens", "10", "--id", "buy-1")
    assert conflict.code == 1
    assert "add-on 'buy-1' was granted already, with other values" in conflict.err
    assert run("addons", "add", "--org", "acme", "--tokens", "7", "--id", "x").code == 0
    assert run("addons", "list").out == (
        "ID     FOR         TOKENS  GRANTED     LAST DAY    NOTE\n"
        f"buy-1  user alice  50,000  {today}  2999-12-31  annual pack\n"
        f"x      org acme         7  {today}  never\n"
    )
    assert [g["id"] for g in run("addons", "list", "--org", "acme", "--json").json()] == ["x"]
    data = run("addons", "add", "--user", "carol", "--tokens", "5", "--json").json()
    assert (data["user"], data["tokens"], data["created"], data["expiresAt"]) == (
        "carol",
        5,
        True,
        None,
    )
    assert run("usage", "--user", "alice", "--json").json()["addOn"] == 50_000
    assert month in run("usage", "--user", "alice").out


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ("1.5", "argument --tokens: '1.5' is not a whole number of tokens"),
        ("0", "argument --tokens: 0 tokens: give a number above 0"),
        ("-5", "argument --tokens: -5 tokens: give a number above 0"),
        ("lots", "argument --tokens: 'lots' is not a whole number of tokens"),
        ("10000000000001", "beyond any real usage"),
    ],
)
def test_bad_token_counts_are_refused(run: Any, tokens: str, message: str) -> None:
    result = run("addons", "add", "--user", "alice", "--tokens", tokens)
    assert (result.code, result.out) == (2, "")
    assert message in result.err and result.err.count("\n") == 1


def test_bad_dates_are_refused(run: Any) -> None:
    past = run("addons", "add", "--user", "a", "--tokens", "5", "--expires", "2020-01-01")
    assert past.err == "llmledger: error: --expires 2020-01-01 has passed: give a later date\n"
    bad = run("addons", "add", "--user", "a", "--tokens", "5", "--expires", "2026-02-30")
    assert bad.err == (
        "llmledger: error: --expires '2026-02-30' is not a date: use YYYY-MM-DD or YYYYMMDD\n"
    )
    usd = run("addons", "add", "--user", "a", "--usd", "5")
    assert usd.err == "llmledger: error: the quotas count tokens: grant --tokens\n"
    month = run("usage", "--user", "a", "--month", "2026-13")
    assert month.err == (
        "llmledger: error: --month '2026-13' is not a month: use YYYY-MM, e.g. 2026-01\n"
    )
    assert {past.code, bad.code, usd.code, month.code} == {2}


def test_usage_shows_the_meter(run: Any) -> None:
    month, resets, _ = this_month()
    record(run.db, "alice", 15_000)
    shown = run("usage", "--user", "alice")
    assert shown.out == (
        f"user alice: plan hobby, {month}\n"
        f"{'█' * 12}{'░' * 28}  30%\n"
        "used       15,000 of 50,000 tokens, 35,000 left\n"
        "add-ons    0 tokens this month\n"
        f"resets     {resets} 00:00 UTC\n"
    )
    assert run("usage", "--user", "alice", "--json").json() == {
        "month": month,
        "used": 15_000,
        "limit": 50_000,
        "remaining": 35_000,
        "percent": 30,
        "addOn": 0,
        "plan": "hobby",
        "unit": "tokens",
        "resetsAt": f"{resets}T00:00:00Z",
        "overage": 0,
        "hasAccess": True,
    }
    record(run.db, "alice", 45_000)
    assert run("usage", "--user", "alice").out == (
        f"user alice: plan hobby, {month}\n"
        f"{'█' * 40}  120%\n"
        "used       60,000 of 50,000 tokens\n"
        "add-ons    0 tokens this month\n"
        "over by    10,000 tokens: requests are refused until it resets\n"
        f"resets     {resets} 00:00 UTC\n"
    )
    nobody = run("usage", "--org", "acme")
    assert nobody.out.splitlines()[1:3] == [f"{'░' * 40}  0%", "used       0 of 50,000 tokens, "
                                            "50,000 left"]  # fmt: skip


def test_usage_in_usd_and_in_a_zone(run: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[quotas]\ncounts = "cost"\ntimezone = "Asia/Shanghai"\n'
        '[plans.hobby]\nusd = 2.5\noverage = "allow"\n',
        encoding="utf-8",
    )
    with Ledger(run.db) as ledger:
        ledger.record(model="gpt-4o", input_tokens=1_200_000, user_id="alice")  # $3.00
    shown = run("usage", "--user", "alice", "--config", str(config))
    lines = shown.out.splitlines()
    assert lines[1:5] == [
        f"{'█' * 40}  120%",
        "used       $3.00 of $2.50",
        "add-ons    $0.00 this month",
        "over by    $0.50 (the plan allows overage)",
    ]
    assert lines[5].startswith("resets     ") and lines[5].endswith(" 00:00 Asia/Shanghai")
    granted = run("addons", "add", "--user", "alice", "--usd", "1", "--config", str(config))
    assert granted.out.startswith("granted $1.00 to user alice (add-on addon_")
    refused = run("addons", "add", "--user", "alice", "--tokens", "5", "--config", str(config))
    assert refused.err == (
        'llmledger: error: the quotas count cost ([quotas] counts = "cost"): grant --usd\n'
    )


def test_budgets_add_list_and_remove(run: Any) -> None:
    _, _, today = this_month()
    added = run("budgets", "add", "--user", "alice", "--tokens", "200000", "--window", "day",
                "--id", "daily")  # fmt: skip
    assert added.out == (
        "added budget daily: 200,000 tokens a day for user alice\n"
        "hard: requests are refused once it is reached; alerts at 80%, 100%\n"
    )
    soft = run("budgets", "add", "--model", "gpt-4o", "--usd", "5", "--window", "total",
               "--soft", "--alert-at", "90,50", "--id", "gpt4o-spend")  # fmt: skip
    assert soft.out == (
        "added budget gpt4o-spend: $5.00 in total for model gpt-4o\n"
        "soft: it only raises alerts; alerts at 50%, 90%\n"
    )
    record(run.db, "alice", 50_000)
    assert run("budgets", "list").out == (
        "ID           LIMITS        WINDOW        LIMIT    USED  USED %  KIND\n"
        f"daily        user alice    {today}  200,000  50,000     25%  hard\n"
        "gpt4o-spend  model gpt-4o  total         $5.00   $0.00      0%  soft\n"
    )
    rows = run("budgets", "list", "--json").json()
    assert [(r["id"], r["unit"], r["limit"], r["used"], r["percent"]) for r in rows] == [
        ("daily", "tokens", 200_000, 50_000, 25),
        ("gpt4o-spend", "usd", 5.0, 0.0, 0),
    ]
    assert run("budgets", "remove", "daily").out == "removed budget daily\n"
    gone = run("budgets", "remove", "daily")
    assert (gone.code, gone.err) == (
        1,
        "llmledger: error: no budget with id 'daily': see 'llmledger budgets list'\n",
    )
    for argv, message in [
        (("budgets", "add", "--user", "a"), "give a limit: --tokens N, --usd AMOUNT, or both"),
        (("budgets", "add", "--tokens", "5"), "one of the arguments --key --user --org --model"),
        (("budgets", "add", "--user", "a", "--usd", "-1"), "argument --usd: -1 USD: give an "
         "amount above 0"),
        (("budgets", "add", "--user", "a", "--tokens", "5", "--alert-at", "0"),
         "argument --alert-at: '0': give percentages from 1 to 1000"),
        (("budgets", "add", "--user", "a", "--tokens", "5", "--window", "year"),
         "argument --window: invalid choice: 'year'"),
    ]:  # fmt: skip
        result = run(*argv)
        assert result.code == 2 and message in result.err, result.err


def test_tables_fit_80_columns_with_long_names(run: Any) -> None:
    long = "a-user-with-a-very-long-identifier-from-an-identity-provider@example.com"
    assert run("addons", "add", "--user", long, "--tokens", "10", "--note", "n" * 60).code == 0
    assert run("budgets", "add", "--user", long, "--tokens", "10", "--id", "b" * 40).code == 0
    for argv in (("addons", "list"), ("budgets", "list"), ("plans", "list")):
        lines = run(*argv).out.splitlines()
        assert max(len(line) for line in lines) <= 80, "\n".join(lines)
        assert "…" in "".join(lines) or argv == ("plans", "list")


def test_reports_can_leave_out_simulated_events(run: Any) -> None:
    record(run.db, "alice", 1_000)
    record(run.db, "alice", 500, source="simulated")
    every = run("daily", "--no-scan", "--json").json()["totals"]["totalTokens"]
    real = run("daily", "--no-scan", "--json", "--exclude-source", "simulated").json()
    assert (every, real["totals"]["totalTokens"]) == (1_500, 1_000)
    typo = run("daily", "--no-scan", "--exclude-source", "simulatd")
    assert typo.code == 2 and "unknown source 'simulatd' (did you mean simulated?)" in typo.err
    nothing = run("daily", "--no-scan", "--exclude-source", "simulated", "--exclude-source",
                  "manual")  # fmt: skip
    assert nothing.err == (
        "llmledger: error: --exclude-source leaves no source to report "
        "(there is: manual, simulated)\n"
    )

"""Gateways on several hosts need shared counters: on a PostgreSQL ledger that another host's
gateway serves, a gateway with quotas and no ``[quotas] redis`` refuses to start and says
why; with Redis it starts; counting modes are never mixed. Another host is a connection
announced as that host's gateway (store/postgres_presence.py), as a real one would be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from llmledger.quota.gateway_hosts import conflict, gateway_name
from tests.gateway.quota_fixtures import FixedUsageUpstream, quota_config, start_gateway

if TYPE_CHECKING:
    from llmledger.store.postgres_presence import Presence

pytestmark = pytest.mark.slow


def announce(url: str, name: str) -> Presence:
    """A connection announced as a gateway (psycopg imported here: a missing driver skips)."""
    from llmledger.store.postgres_presence import announce as announced

    return announced(url, name)


@pytest.fixture
def other_host(postgres_schema_url: str) -> Iterator[Presence]:
    presence = announce(postgres_schema_url, gateway_name("ledger", "other-host"))
    yield presence
    presence.close()


def refusal(tmp_path: Path, port: int, url: str, quotas: str = "") -> str:
    """The one line a gateway that refuses to start prints."""
    with pytest.raises(AssertionError) as caught:
        start_gateway(tmp_path, quota_config(port, tmp_path, quotas=quotas), url)  # type: ignore[arg-type]
    lines = [line for line in str(caught.value).splitlines()[1:] if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_without_redis_a_second_host_is_refused_and_told_why(
    fixed: FixedUsageUpstream, tmp_path: Path, postgres_schema_url: str, other_host: Presence
) -> None:
    line = refusal(tmp_path, fixed.port, postgres_schema_url)
    assert "the gateway cannot start with quotas on" in line
    assert "a gateway on host other-host serves this ledger too" in line
    assert "[quotas] redis" in line


def test_with_redis_a_second_host_starts_and_a_ledger_counting_one_is_refused(
    fixed: FixedUsageUpstream,
    tmp_path: Path,
    postgres_schema_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    quotas = f'redis = "{redis_url}"\nredis_prefix = "{redis_prefix}"\n'
    other = announce(postgres_schema_url, gateway_name("redis", "other-host"))
    try:
        config = quota_config(fixed.port, tmp_path / "a", quotas=quotas)
        gateway = start_gateway(tmp_path / "a", config, postgres_schema_url)  # type: ignore[arg-type]
        try:
            names = other.others()
            assert len(names) == 1 and names[0].startswith("llmledger-serve/redis@")
            # A gateway counting in the ledger beside them: refused (this host or another).
            line = refusal(tmp_path / "b", fixed.port, postgres_schema_url)
            assert "a gateway on host other-host serves this ledger too" in line
            assert 'set [quotas] redis = "redis://…" on every gateway' in line
        finally:
            gateway.stop()
    finally:
        other.close()


def test_a_redis_gateway_is_refused_beside_one_counting_in_the_ledger(
    fixed: FixedUsageUpstream,
    tmp_path: Path,
    postgres_schema_url: str,
    other_host: Presence,
    redis_url: str,
    redis_prefix: str,
) -> None:
    quotas = f'redis = "{redis_url}"\nredis_prefix = "{redis_prefix}"\n'
    line = refusal(tmp_path, fixed.port, postgres_schema_url, quotas)
    assert "a gateway on host other-host counts quotas in the ledger without Redis" in line


def test_a_host_that_went_away_no_longer_counts(
    fixed: FixedUsageUpstream, tmp_path: Path, postgres_schema_url: str
) -> None:
    other = announce(postgres_schema_url, gateway_name("ledger", "other-host"))
    other.close()  # its process ended: its connection, and so its announcement, went with it
    config = quota_config(fixed.port, tmp_path, quotas="")
    start_gateway(tmp_path, config, postgres_schema_url).stop()  # type: ignore[arg-type]


def test_another_ledger_on_the_same_server_is_not_another_host(
    fixed: FixedUsageUpstream,
    tmp_path: Path,
    postgres_schema_url: str,
    other_host: Presence,
) -> None:
    import psycopg

    from tests.conftest import POSTGRES_SERVER

    schema = "t_other_ledger_" + tmp_path.name[-8:].replace("-", "_")
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        url = f"{POSTGRES_SERVER}?options=-csearch_path%3D{schema}"
        start_gateway(tmp_path, quota_config(fixed.port, tmp_path), url).stop()  # type: ignore[arg-type]
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.parametrize(
    ("mode", "others", "expected"),
    [
        ("ledger", [], None),
        ("ledger", ["llmledger-serve/ledger@here"], None),  # one host: the ledger's counters
        ("ledger", ["psql", "llmledger-serve/ledger@there"], "a gateway on host there"),
        ("ledger", ["llmledger-serve/redis@here"], "counts quotas in Redis"),
        ("redis", ["llmledger-serve/redis@there"], None),
        ("redis", ["llmledger-serve/ledger@here"], "a gateway on host here counts quotas"),
    ],
)
def test_conflicts(mode: str, others: list[str], expected: str | None) -> None:
    found = conflict(mode, "here", others)  # type: ignore[arg-type]
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found

"""schemathesis against the running gateway's ``/openapi.json``: every route, with the admin
token and with a user's ledger key, a fixed number of generated examples each. No answer may
be a 5xx, have an undocumented status or content type, or break its schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import GatewayProcess
from tests.gateway.quota_fixtures import ADMIN, FixedUsageUpstream, quota_config, start_gateway

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode, checks  # noqa: E402

MAX_EXAMPLES = 25  # per route, mode (valid, invalid) and credential: well under a minute
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def api_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    upstream = FixedUsageUpstream(record=False)
    upstream.start_in_thread()
    workdir: Path = tmp_path_factory.mktemp("schema-gateway")
    config = quota_config(
        upstream.port,
        workdir,
        server="allow_simulation = true\nsimulations_per_minute = 100\nstream_seconds = 0.5",
    )
    process = start_gateway(workdir, config)
    yield process
    process.stop()
    upstream.stop()


def test_every_route_keeps_its_schema(api_gateway: GatewayProcess) -> None:
    key, _ = api_gateway.create_key("schema-user", org="schema-org")
    credentials: list[dict[str, str]] = [
        {**ADMIN, "x-user-id": "schema-user"},
        {"authorization": f"Bearer {key}"},
    ]
    schema = schemathesis.openapi.from_url(f"{api_gateway.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    runs = [
        (operation, mode)
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    for operation, mode in runs:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            for headers in credentials:
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)

        try:
            check()
        except Unsatisfiable:  # nothing to get wrong: a route without parameters or body
            assert (mode, operation.method.upper()) == (GenerationMode.NEGATIVE, "GET")

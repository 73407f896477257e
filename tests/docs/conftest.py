"""Options for the documentation tests.

When the CLI's output changes on purpose, regenerate the exact-output blocks of README.md and
docs/*.md (the ones under ``<!-- output: exact -->``) instead of editing them by hand::

    python -m pytest tests/docs --update-docs

then review the diff (``git diff README.md docs``) and commit it with the change.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-docs",
        action="store_true",
        default=False,
        help="rewrite the exact-output blocks of README.md and docs/*.md with what runs print",
    )


@pytest.fixture
def update_docs(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-docs", default=False))

"""Tests that can fail: no ``assert`` whose whole test is a bare name or attribute (``assert
rows``, ``assert result.ok``), and no test whose only check is ``assert x is not None``.

Any truthy value passes such an assert, whatever it holds. Compare with the value the test
expects instead: ``assert rows == [...]``, ``assert len(chunks) == 3``, ``assert flag is True``.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# (file, enclosing function, the assert's test) -> why a bare truthiness check is right there.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("tests/docs/test_docs_examples.py", "_check_console", "commands"): (
        "a console block must hold at least one '$ ' command, however many; each command's exit "
        "status (and, when marked exact, its output) is checked right after"
    ),
}

# pytest.raises(...), pytest.warns(...), pytest.fail(...): checks that are not asserts.
PYTEST_CHECKS = {"raises", "warns", "deprecated_call", "fail"}


def _is_none_check(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    )


def _is_pytest_check(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in PYTEST_CHECKS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pytest"
    )


class _Scan(ast.NodeVisitor):
    def __init__(self) -> None:
        self.function = "<module>"
        self.found: list[tuple[int, str, str, str]] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.function = self.function, node.name
        if node.name.startswith("test"):
            asserts = [n for n in ast.walk(node) if isinstance(n, ast.Assert)]
            others = any(_is_pytest_check(n) for n in ast.walk(node))
            if len(asserts) == 1 and not others and _is_none_check(asserts[0].test):
                test = ast.unparse(asserts[0].test)
                self.found.append((asserts[0].lineno, node.name, test, "the test's only check"))
        self.generic_visit(node)
        self.function = outer

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Assert(self, node: ast.Assert) -> None:
        if isinstance(node.test, (ast.Name, ast.Attribute)):
            self.found.append((node.lineno, self.function, ast.unparse(node.test), "truthy"))
        self.generic_visit(node)


def weak_asserts(source: str) -> list[tuple[int, str, str, str]]:
    """(line, enclosing function, the assert's test, why it is weak), in line order."""
    scan = _Scan()
    scan.visit(ast.parse(source))
    return sorted(scan.found)


def test_the_scan_finds_each_blatant_form() -> None:
    source = """
def helper(rows):
    assert rows
    assert rows == [1]

def test_bare(result):
    assert result.ok
    assert result.ok is True

def test_only_not_none(found):
    assert found is not None

def test_not_none_then_more(found):
    assert found is not None
    assert found.key == "k"

def test_not_none_then_raises(found):
    assert found is not None
    with pytest.raises(ValueError):
        found.go()
"""
    assert weak_asserts(source) == [
        (3, "helper", "rows", "truthy"),
        (7, "test_bare", "result.ok", "truthy"),
        (11, "test_only_not_none", "found is not None", "the test's only check"),
    ]


def test_no_assert_only_checks_truthiness() -> None:
    problems = []
    seen = set()
    for path in sorted(TESTS.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for line, function, test, why in weak_asserts(path.read_text(encoding="utf-8")):
            key = (name, function, test)
            seen.add(key)
            if key not in ALLOWED:
                problems.append(f"{name}:{line}: `assert {test}` in {function} ({why})")
    assert problems == [], "compare with the expected value:\n" + "\n".join(problems)
    assert sorted(set(ALLOWED) - seen) == [], "stale ALLOWED entries"

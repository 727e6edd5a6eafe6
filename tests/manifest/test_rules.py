"""Every rule id has a failing fixture that produces it, at a real position, and docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connector_sdk._manifest.rules import RULES
from connector_sdk.cli._validation import validate_paths

FIXTURES = Path(__file__).parent / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
#: Workflow rules have their fixtures in tests/workflows/fixtures/invalid (same convention).
WORKFLOW_INVALID = sorted(
    (Path(__file__).parents[1] / "workflows" / "fixtures" / "invalid").glob("*.yaml"))
DOCS = Path(__file__).parents[2] / "docs"

# Rules that need a situation rather than a file's content; tested in test_validate_cli.py.
SITUATIONAL = {"FILE-UNREADABLE", "FILE-TOO-LARGE", "NO-MANIFESTS", "PLUGIN-LOAD"}


def test_the_valid_base_fixture_has_no_problem() -> None:
    [result] = validate_paths([FIXTURES / "valid" / "acme.yaml"])
    assert result.problems == []


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_each_invalid_fixture_reports_exactly_its_rule(fixture: Path) -> None:
    [result] = validate_paths([fixture])
    rules = {p.rule for p in result.problems}
    assert rules == {fixture.stem}, [p.format_text() for p in result.problems]
    for problem in result.problems:
        assert problem.file == str(fixture)
        assert problem.line >= 1 and problem.column >= 1
        assert problem.message[0].isalpha() or problem.message[0] in "'{"


def test_every_rule_has_a_fixture_or_a_situational_test() -> None:
    covered = {p.stem for p in INVALID} | {p.stem for p in WORKFLOW_INVALID} | SITUATIONAL
    assert set(RULES) - covered == set()
    assert covered - set(RULES) == set(), "a fixture names a rule that is not catalogued"


def test_every_rule_is_documented() -> None:
    text = "".join(
        (DOCS / name).read_text() for name in ("manifest.md", "operations.md", "workflows.md")
        if (DOCS / name).exists()
    )
    missing = [rule for rule in RULES if not re.search(rf"`{re.escape(rule)}`", text)]
    assert missing == []


def test_problem_line_points_at_the_change() -> None:
    [result] = validate_paths([FIXTURES / "invalid" / "SCHEMA-UNKNOWN-KEY.yaml"])
    [problem] = result.problems
    lines = (FIXTURES / "invalid" / "SCHEMA-UNKNOWN-KEY.yaml").read_text().splitlines()
    assert lines[problem.line - 1].strip().startswith("scope:")
    assert "did you mean 'scopes'?" in problem.message
    assert problem.json_path == "$.auth.scope"

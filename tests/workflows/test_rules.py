"""Every workflow rule has a fixture that produces exactly that rule, at a real line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector_sdk._manifest.rules import RULES
from connector_sdk.cli._validation import validate_paths

FIXTURES = Path(__file__).parent / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def test_valid_fixture_and_examples_have_no_problem() -> None:
    results = validate_paths([FIXTURES / "valid", *EXAMPLES])
    assert len(results) == 1 + len(EXAMPLES) >= 3
    assert [p.format_text() for r in results for p in r.problems] == []
    assert {r.kind for r in results} == {"workflow"}


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_each_invalid_fixture_reports_exactly_its_rule(fixture: Path) -> None:
    [result] = validate_paths([fixture])
    assert result.kind == "workflow"
    assert [p.rule for p in result.problems] == [fixture.stem], [
        p.format_text() for p in result.problems]
    [problem] = result.problems
    assert problem.file == str(fixture)
    assert problem.line >= 2 and problem.column >= 1


def test_every_workflow_rule_has_a_fixture() -> None:
    workflow_rules = {rule for rule in RULES if rule.startswith("WORKFLOW-")}
    assert workflow_rules == {p.stem for p in INVALID}


def test_reference_problem_points_at_the_referring_line() -> None:
    fixture = FIXTURES / "invalid" / "WORKFLOW-STEP-UNKNOWN.yaml"
    [problem] = validate_paths([fixture])[0].problems
    line = fixture.read_text().splitlines()[problem.line - 1]
    assert "{{ steps.game.data.0.id }}" in line
    assert "did you mean 'games'?" in problem.message
    assert problem.json_path == "$.steps[1].inputs.game_id[0]"


def test_cycle_is_named_as_a_cycle() -> None:
    [problem] = validate_paths([FIXTURES / "invalid" / "WORKFLOW-REFERENCE-LATER.yaml"])[0].problems
    assert "a cycle" in problem.message


def test_placeholder_values_are_not_checked_against_the_input_schema(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        "workflow_version: 1\n"
        "inputs: {n: {type: integer, default: 3}}\n"
        "steps:\n"
        "  - id: games\n"
        "    operation: twitch.get_top_games\n"
        "    authentication: twitch\n"
        "    inputs: {first: '{{ inputs.n }}'}\n")
    assert validate_paths([path])[0].problems == []


def test_schema_problems_do_not_hide_the_other_problems(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text("workflow_version: 1\nsteps:\n  - id: a\n    operation: twitch.get_users\n"
                    "    continue_on_eror: true\n  - id: b\n    operation: twitch.get_usr\n"
                    "    authentication: t\n    inputs: {login: ['{{ steps.zz.id }}']}\n")
    rules = [p.rule for p in validate_paths([path])[0].problems]
    assert {"SCHEMA-REQUIRED", "SCHEMA-UNKNOWN-KEY", "WORKFLOW-STEP-INPUT-MISSING",
            "WORKFLOW-OPERATION-UNKNOWN", "WORKFLOW-STEP-UNKNOWN"} <= set(rules)


def test_an_invalid_input_type_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """Found by fuzzing: checks that go on after schema problems met an unknown type."""
    path = tmp_path / "wf.yaml"
    path.write_text("workflow_version: 1\ninputs:\n  login: {type: '{{ x }}', default: a}\n"
                    "steps:\n  - id: a\n    operation: twitch.get_users\n"
                    "    authentication: t\n    inputs: {login: ['{{ inputs.login }}']}\n")
    rules = {p.rule for p in validate_paths([path])[0].problems}
    assert "SCHEMA-ENUM" in rules


def test_a_misspelt_reference_root_gets_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text("workflow_version: 1\nsteps:\n  - id: a\n    operation: twitch.get_users\n"
                    "    authentication: t\n    inputs: {login: ['{{ input.x }}']}\n")
    [problem] = validate_paths([path])[0].problems
    assert problem.rule == "WORKFLOW-REFERENCE-ROOT"
    assert "did you mean 'inputs'?" in problem.message

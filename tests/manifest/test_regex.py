"""Regexes from manifests are RE2 (issue 10.2): no pattern stalls validate or the event loop,
and an invalid or unsupported one is a validate problem, never a run-time exception.

Python's ``re`` takes minutes for ``^(a+)+$`` against 31 ``a`` and a ``!``; the inputs below
are a hundred thousand characters, so only a linear-time engine finishes within the tests'
timeouts (the figures are in benchmarks/hostile_regex.py, not asserted here).
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector_sdk import ManifestError, OperationError, ParameterError
from connector_sdk._manifest.loader import build_service, load_manifest
from connector_sdk._manifest.model import Authentication
from connector_sdk._manifest.reader import load_yaml
from connector_sdk._manifest.regex import RegexError, compile_pattern
from connector_sdk._manifest.schema_policy import RegexBudget
from connector_sdk._operations.calls import call_operation
from connector_sdk._plugins.registry import ServiceRegistry
from connector_sdk._runtime.runtime import Runtime
from connector_sdk._workflows.checks import check_workflow_document

pytestmark = pytest.mark.timeout(30)

BASE = yaml.safe_load((Path(__file__).parent / "fixtures" / "valid" / "acme.yaml").read_text())
EVIL = "^(a+)+$"
HOSTILE = "a" * 100_000 + "!"


def manifest(client_id: dict[str, Any], op_input: dict[str, Any] | None = None) -> str:
    data = copy.deepcopy(BASE)
    data["parameters"]["properties"]["client_id"] = {"type": "string", **client_id}
    if op_input is not None:
        data["operations"] = {"get_thing": {
            "title": "Get a thing", "description": "One thing.",
            "input": {"type": "object", "properties": op_input},
            "request": {"method": "GET", "path": "/things"}}}
    return yaml.safe_dump(data)


def rules(text: str) -> dict[str, list[str]]:
    service, problems = load_manifest(text)
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.rule, []).append(problem.message)
    return found


# -- validate ---------------------------------------------------------------------------------


def test_the_audits_pattern_with_a_31_character_default_validates_at_once() -> None:
    assert rules(manifest({"pattern": EVIL, "default": "a" * 31 + "!"})) == {
        "PARAMETER-DEFAULT-INVALID": [
            "the default of 'client_id' does not satisfy its own schema (pattern): fix the"
            " default or the constraint"]}


def test_a_hostile_default_a_hundred_thousand_characters_long_validates_at_once() -> None:
    assert set(rules(manifest({"pattern": EVIL, "default": HOSTILE}))) == {
        "PARAMETER-DEFAULT-INVALID"}


@pytest.mark.parametrize(("pattern", "rule", "says"), [
    ("^[a-z", "REGEX-INVALID", "not a valid regular expression (missing ]"),
    ("(", "REGEX-INVALID", "missing )"),
    ("a**", "REGEX-INVALID", "bad repetition operator"),
    ("\\", "REGEX-INVALID", "trailing \\"),
    ("^(?=.*[0-9])[a-z0-9]+$", "REGEX-UNSUPPORTED", "lookahead '(?='"),
    ("^(?!test)[a-z]+$", "REGEX-UNSUPPORTED", "negative lookahead '(?!'"),
    ("(?<=a)b", "REGEX-UNSUPPORTED", "lookbehind '(?<='"),
    ("(?<!a)b", "REGEX-UNSUPPORTED", "negative lookbehind"),
    ("^(a)\\1$", "REGEX-UNSUPPORTED", "backreference ('\\1')"),
    ("^(?<x>a)\\k<x>$", "REGEX-UNSUPPORTED", "backreference ('\\k<name>')"),
    ("^a{1001}$", "REGEX-UNSUPPORTED", "more than 1000 times"),
    ("^\\p{L}{1000}$", "REGEX-UNSUPPORTED", "more than 2,000 instructions"),
    (".{1000}", "REGEX-UNSUPPORTED", "compiles to 8,004 instructions, more than 2,000"),
    ("^a\\Z", "REGEX-UNSUPPORTED", "invalid escape sequence: \\Z"),
])
@pytest.mark.parametrize("with_default", [False, True])
def test_an_invalid_or_unsupported_pattern_is_a_problem_naming_the_field_and_the_fix(
    pattern: str, rule: str, says: str, with_default: bool, capfd: pytest.CaptureFixture[str]
) -> None:
    extra = {"default": "abc"} if with_default else {}
    found = rules(manifest({"pattern": pattern, **extra}))
    assert set(found) == {rule}, found
    [message] = found[rule]
    assert message.startswith(f"the pattern '{pattern}' ") and says in message
    assert capfd.readouterr().err == ""  # RE2's own error log is off


@pytest.mark.parametrize("where", ["parameters", "input", "output"])
def test_pattern_properties_keys_and_nested_patterns_are_checked_everywhere(where: str) -> None:
    schema = {"type": "object", "patternProperties": {"^(?=x)": {"type": "string"}},
              "properties": {"deep": {"type": "array", "items": {"anyOf": [
                  {"type": "string", "pattern": "("}]}}}}
    if where == "parameters":
        text = manifest({"x-nothing": 1}).replace("x-nothing: 1", "")
        data = yaml.safe_load(text)
        data["parameters"]["properties"]["client_id"] = {"type": "string", "allOf": [schema]}
        text = yaml.safe_dump(data)
    elif where == "input":
        text = manifest({}, {"id": schema})
    else:
        data = yaml.safe_load(manifest({}, {"id": {"type": "string"}}))
        data["operations"]["get_thing"]["output"] = schema
        text = yaml.safe_dump(data)
    service, problems = load_manifest(text)
    assert {(p.rule, p.path[-1]) for p in problems} == {
        ("REGEX-UNSUPPORTED", "^(?=x)"), ("REGEX-INVALID", "pattern")}, problems


def test_unevaluated_properties_next_to_pattern_properties_is_refused() -> None:
    found = rules(manifest({}, {"meta": {"type": "object", "unevaluatedProperties": False,
                                         "patternProperties": {"^x-": {"type": "string"}}}}))
    assert set(found) == {"REGEX-UNSUPPORTED"}
    assert "use 'additionalProperties'" in found["REGEX-UNSUPPORTED"][0]


def test_ecma_262_spellings_work_and_dollar_is_the_very_end() -> None:
    text = manifest({"pattern": "^[\\u0041-\\u005A]+$", "default": "ABC"},
                    {"tag": {"type": "string", "pattern": "^[a-z]+$", "default": "x"}})
    service, problems = load_manifest(text)
    assert problems == [] and service is not None
    validator = service.parameters_validator()
    base = {"tenant": "t", "client_secret": "s"}
    assert validator.is_valid({**base, "client_id": "XYZ"})
    assert not validator.is_valid({**base, "client_id": "XYZ\n"})  # Python's re: valid
    assert not validator.is_valid({**base, "client_id": "xyz"})


def test_a_default_too_long_to_check_within_the_budget_is_a_problem_not_a_stall() -> None:
    pattern = "(a|b){300}x"  # about 900 instructions, each alive for every character
    found = rules(manifest({"pattern": pattern, "default": "ab" * 500_000}))
    assert found == {"PARAMETER-DEFAULT-INVALID": [
        "the default of 'client_id' is too long to check against the schema's patterns:"
        " shorten it"]}


def test_workflow_literals_too_long_to_check_are_a_problem_not_a_stall() -> None:
    service, problems = load_manifest(manifest({}, {"id": {"type": "string",
                                                           "pattern": "(a|b){300}x"}}))
    assert service is not None, problems
    doc, _ = load_yaml(yaml.safe_dump({
        "workflow_version": 1,
        "steps": [{"id": "one", "operation": "acme.get_thing", "authentication": "a",
                   "inputs": {"id": "ab" * 500_000}}]}), "flow.yaml")
    assert doc is not None
    [problem] = check_workflow_document(doc, services=ServiceRegistry(services={"acme": service}))
    assert problem.rule == "WORKFLOW-STEP-INPUT-INVALID"
    assert "too long to check" in problem.message


def test_the_regex_budget_bounds_a_file_of_many_large_patterns() -> None:
    budget = RegexBudget(limit=50_000)
    errors = [budget.check(f"^[^{i % 50}]{{200}}$") for i in range(200)]
    assert errors[0] is None
    refused = [e for e in errors if e is not None]
    assert refused and all(e.unsupported and "budget" in str(e) for e in refused)
    assert budget.check("^[^0]{200}$") is None  # already compiled: counted once


def test_compile_pattern_refuses_with_typed_errors() -> None:
    with pytest.raises(RegexError) as exc:
        compile_pattern("(?=a)")
    assert exc.value.unsupported
    with pytest.raises(RegexError) as exc:
        compile_pattern("[")
    assert not exc.value.unsupported
    assert compile_pattern("[]").search("x") is None  # ECMA-262: matches nothing
    assert compile_pattern("^[^]$").search("\n") is not None  # ECMA-262: anything


# -- run time ---------------------------------------------------------------------------------


@pytest.fixture
def runtime(tmp_path: Path) -> Any:
    with Runtime(environ={}, home=tmp_path) as value:
        yield value


def installed(runtime: Runtime, text: str) -> Any:
    service, problems = load_manifest(text)
    assert problems == [] and service is not None
    runtime.services.services[service.id] = service
    return service


def test_a_hostile_value_for_a_parameter_pattern_is_refused_at_once(runtime: Runtime) -> None:
    installed(runtime, manifest({"pattern": EVIL}))
    with pytest.raises(ParameterError) as exc:
        runtime.create_authentication("acme", "a", {"tenant": "t1", "client_id": HOSTILE,
                                                    "client_secret": "s"})
    assert exc.value.fields == {"client_id": [f"does not match the pattern {EVIL}"]}
    assert HOSTILE[:20] not in str(exc.value)


def test_a_hostile_operation_input_does_not_stall_the_event_loop(runtime: Runtime) -> None:
    service = installed(runtime, manifest({}, {
        "id": {"type": "string", "pattern": EVIL},
        "keys": {"type": "object", "patternProperties": {EVIL: {"type": "integer"}},
                 "additionalProperties": False}}))
    auth = Authentication("a", service, {"tenant": "t1", "client_id": "c", "client_secret": "s"})
    with pytest.raises(OperationError) as exc:
        asyncio.run(call_operation(runtime, "acme.get_thing", auth,
                                   {"id": HOSTILE, "keys": {HOSTILE: "x"}}))
    assert {d["path"] for d in exc.value.details} == {"$.id", "$.keys"}
    assert HOSTILE[:100] not in str(exc.value)


def test_format_regex_values_are_judged_by_the_same_engine(runtime: Runtime) -> None:
    service = installed(runtime, manifest({}, {"expr": {"type": "string", "format": "regex"}}))
    auth = Authentication("a", service, {"tenant": "t1", "client_id": "c", "client_secret": "s"})
    for value in ("(?=a)", "(", "a{1001}"):
        with pytest.raises(OperationError, match=r"\$\.expr is not a valid regex"):
            asyncio.run(call_operation(runtime, "acme.get_thing", auth, {"expr": value}))
    found = rules(manifest({"format": "regex", "default": "(?=x)"}))
    assert set(found) == {"PARAMETER-DEFAULT-INVALID"}


def test_a_workflow_literal_checked_against_a_hostile_pattern_is_a_problem_at_once() -> None:
    service, problems = load_manifest(manifest({}, {"id": {"type": "string", "pattern": EVIL}}))
    assert service is not None, problems
    doc, _ = load_yaml(yaml.safe_dump({
        "workflow_version": 1,
        "steps": [{"id": "one", "operation": "acme.get_thing", "authentication": "a",
                   "inputs": {"id": HOSTILE}}]}), "flow.yaml")
    assert doc is not None
    [problem] = check_workflow_document(doc, services=ServiceRegistry(services={"acme": service}))
    assert problem.rule == "WORKFLOW-STEP-INPUT-INVALID"
    assert problem.message.endswith(f"does not match the pattern {EVIL}")
    assert HOSTILE[:20] not in problem.message


def test_a_service_built_around_validate_with_a_bad_pattern_is_refused_typed(
    runtime: Runtime,
) -> None:
    data = yaml.safe_load(manifest({"pattern": "(?=a)"}))
    service = build_service(data, source="<built>")
    runtime.services.services[service.id] = service
    with pytest.raises(ManifestError, match="REGEX-UNSUPPORTED"):
        runtime.create_authentication("acme", "a", {"tenant": "t1", "client_id": "c",
                                                    "client_secret": "s"})


def test_a_large_input_is_checked_in_a_worker_thread_and_a_small_one_on_the_loop(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from connector_sdk._operations import calls

    service = installed(runtime, manifest({}, {"id": {"type": "string", "pattern": EVIL}}))
    auth = Authentication("a", service, {"tenant": "t1", "client_id": "c", "client_secret": "s"})
    threads: list[str] = []
    checked = calls.validate_input

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return checked(*args)

    monkeypatch.setattr(calls, "validate_input", recording)
    for text in (HOSTILE, "a" * 100 + "!"):
        with pytest.raises(OperationError, match="does not match the pattern"):
            asyncio.run(call_operation(runtime, "acme.get_thing", auth, {"id": text}))
    main = threading.main_thread().name
    assert threads[0] != main and threads[1] == main


def test_a_lone_surrogate_matches_no_pattern_and_is_no_regex() -> None:
    # "\ud800" is valid JSON and an undecodable argv byte becomes "\udcff"; RE2 reads UTF-8,
    # which such a string has no form in: it must be a validation error, not an internal one.
    from connector_sdk._manifest.dialect import build_validator

    validator = build_validator({"type": "object", "properties": {
        "s": {"type": "string", "pattern": "^a"},
        "r": {"type": "string", "format": "regex"},
    }}, name="surrogates")
    messages = sorted(e.message for e in validator.iter_errors({"s": "\ud800", "r": "\udcff"}))
    assert len(messages) == 2
    assert any("does not match" in m for m in messages)
    assert any("is not a 'regex'" in m for m in messages)

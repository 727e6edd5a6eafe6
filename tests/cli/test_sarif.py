"""``validate --format sarif`` writes a SARIF 2.1.0 log that code-scanning UIs accept.

The official schema (https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/
sarif-schema-2.1.0.json) is not shipped with any package here, so ``SARIF_SUBSET`` restates
its constraints on every object the reporter writes: required properties, enums, minimums,
and ``additionalProperties: false`` with exactly the properties the official schema allows
on those objects (a property we invented would fail). URI formats are checked explicitly,
since jsonschema checks ``uri`` only with an extra package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connector_sdk.cli._sarif import rule_catalogue, sarif_log

ROOT = Path(__file__).parents[2]
MANIFEST_FIXTURE = ROOT / "tests" / "manifest" / "fixtures" / "invalid" / "SCHEMA-UNKNOWN-KEY.yaml"
REDIRECT_FIXTURE = ROOT / "tests" / "redirects" / "fixtures" / "invalid" / \
    "REDIRECT-URL-FRAGMENT.yaml"

_MESSAGE = {"type": "object", "additionalProperties": False, "required": ["text"],
            "properties": {"text": {"type": "string"}, "markdown": {"type": "string"},
                           "id": {"type": "string"}, "arguments": {"type": "array"},
                           "properties": {"type": "object"}}}
SARIF_SUBSET: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object", "additionalProperties": False, "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"enum": ["2.1.0"]},
        "runs": {"type": "array", "items": {"$ref": "#/definitions/run"}},
    },
    "definitions": {
        "run": {"type": "object", "required": ["tool"], "properties": {
            "tool": {"type": "object", "additionalProperties": False, "required": ["driver"],
                     "properties": {"driver": {"$ref": "#/definitions/toolComponent"}}},
            "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
            "results": {"type": "array", "items": {"$ref": "#/definitions/result"}},
        }},
        "toolComponent": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "version": {"type": "string"},
            "semanticVersion": {"type": "string"}, "informationUri": {"type": "string"},
            "rules": {"type": "array", "uniqueItems": True,
                      "items": {"$ref": "#/definitions/reportingDescriptor"}},
        }},
        "reportingDescriptor": {
            "type": "object", "additionalProperties": False, "required": ["id"],
            "properties": {"id": {"type": "string"}, "shortDescription": _MESSAGE,
                           "helpUri": {"type": "string"}}},
        "result": {
            "type": "object", "additionalProperties": False, "required": ["message"],
            "properties": {
                "ruleId": {"type": "string"},
                "ruleIndex": {"type": "integer", "minimum": -1},
                "level": {"enum": ["none", "note", "warning", "error"]},
                "message": _MESSAGE,
                "locations": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"physicalLocation": {"$ref": "#/definitions/physical"}}}},
            }},
        "physical": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "artifactLocation": {"type": "object", "additionalProperties": False,
                                     "properties": {"uri": {"type": "string"}}},
                "region": {"type": "object", "additionalProperties": False, "properties": {
                    "startLine": {"type": "integer", "minimum": 1},
                    "startColumn": {"type": "integer", "minimum": 1}}},
            }},
    },
}


def _check(log: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(SARIF_SUBSET).validate(log)
    for run in log["runs"]:
        rules = run["tool"]["driver"]["rules"]
        for rule in rules:
            if "helpUri" in rule:
                assert urllib.parse.urlsplit(rule["helpUri"]).scheme == "https"
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            for location in result.get("locations", ()):
                uri = location["physicalLocation"]["artifactLocation"]["uri"]
                assert " " not in uri and not uri.startswith("/")


def _validate_sarif(*paths: Path) -> tuple[int, dict[str, Any]]:
    env = dict(os.environ)
    env.pop("CONNECTOR_SDK_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "connector_sdk.cli", "validate", "--format", "sarif",
         *(str(p.relative_to(ROOT)) for p in paths)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, json.loads(done.stdout)


def test_problems_become_results_with_rule_level_message_and_position() -> None:
    code, log = _validate_sarif(MANIFEST_FIXTURE, REDIRECT_FIXTURE)
    assert code == 1
    _check(log)
    [run] = log["runs"]
    assert run["tool"]["driver"]["name"] == "connector-sdk"
    by_rule = {r["ruleId"]: r for r in run["results"]}
    unknown = by_rule["SCHEMA-UNKNOWN-KEY"]
    assert unknown["level"] == "error"
    assert "did you mean 'scopes'?" in unknown["message"]["text"]
    physical = unknown["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == \
        "tests/manifest/fixtures/invalid/SCHEMA-UNKNOWN-KEY.yaml"
    lines = MANIFEST_FIXTURE.read_text().splitlines()
    assert lines[physical["region"]["startLine"] - 1].strip().startswith("scope:")
    fragment = by_rule["REDIRECT-URL-FRAGMENT"]["locations"][0]["physicalLocation"]
    assert fragment["region"] == {"startLine": 3, "startColumn": 5}


def test_a_clean_run_is_a_valid_log_with_every_rule_and_no_result() -> None:
    code, log = _validate_sarif(ROOT / "tests" / "redirects" / "fixtures" / "valid.yaml")
    assert code == 0
    _check(log)
    [run] = log["runs"]
    assert run["results"] == []
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == list(rule_catalogue())
    assert {"SCHEMA-UNKNOWN-KEY", "WORKFLOW-STEP-UNKNOWN", "REDIRECT-HOST-DUPLICATE"} <= set(ids)


@pytest.mark.parametrize(("rule", "page"), [
    ("SCHEMA-UNKNOWN-KEY", "manifest.md#rules"), ("WORKFLOW-STEP-UNKNOWN", "workflows.md#rules"),
    ("OPERATION-PATH-INVALID", "operations.md#rules"),
    ("REDIRECT-HOST-DUPLICATE", "redirects.md#rules-checked-at-start-up"),
])
def test_help_uris_point_at_the_rule_section_when_a_docs_url_is_known(
        rule: str, page: str) -> None:
    log = sarif_log([], docs_url="https://docs.example/connector-sdk/docs")
    _check(log)
    [descriptor] = [r for r in log["runs"][0]["tool"]["driver"]["rules"] if r["id"] == rule]
    assert descriptor["helpUri"] == f"https://docs.example/connector-sdk/docs/{page}"
    section = page.partition("#")[0]
    assert f"`{rule}`" in (ROOT / "docs" / section).read_text(encoding="utf-8")


def test_a_file_outside_the_working_directory_is_a_file_uri(tmp_path: Path) -> None:
    from connector_sdk import Problem

    inside = tmp_path / "dir with space" / "m.yaml"
    problems = [Problem(str(inside), 2, 3, "SCHEMA-TYPE", "expected string"),
                Problem("/elsewhere/m.yaml", 0, 0, "FILE-UNREADABLE", "cannot read"),
                Problem("<plugin acme>", 0, 0, "PLUGIN-LOAD", "failed"),
                Problem("../up one/m.yaml", 1, 1, "SCHEMA-TYPE", "expected string")]
    log = sarif_log(problems, cwd=tmp_path)
    results = log["runs"][0]["results"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "dir%20with%20space/m.yaml"
    assert results[1]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "file:///elsewhere/m.yaml"}}
    assert "locations" not in results[2]
    # a relative path that leaves the working directory is not a `..` reference
    assert results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        (tmp_path.parent / "up one" / "m.yaml").as_uri()

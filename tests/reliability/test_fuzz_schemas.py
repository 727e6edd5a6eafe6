"""Fuzzing the schemas a manifest embeds: ``$ref`` and ``pattern`` content (issue 10.8).

Structure-aware: a generated JSON Schema (references to a live loopback server, to a canary
file and inside the schema; anchors, ``$id``, ``$defs``; patterns made of regex syntax,
ReDoS shapes and features RE2 lacks; ``patternProperties``, ``format: regex``) is placed as
a parameter, an operation input property or an operation output, and the manifest loaded.
Each target says what must hold for every example:

* loading returns problems and never raises; nothing is retrieved (no request reaches the
  server, no ``socket.connect``, no ``open`` of the canary file, seen by an audit hook);
* a manifest that loads without problems is safe at run time: its validators build, and
  checking its defaults and hostile strings of 20,000 characters raises nothing and ends
  within the example deadline (no backtracking);
* jsonschema-rs, which ``validate`` asks first, never calls valid what jsonschema (which
  phrases the problems) calls invalid: for embedded schemas against the meta-schema and for
  whole manifests against the manifest schema;
* ``check_pattern`` raises only ``RegexError``, and what it accepts matches in linear time.

Budget: ``CONNECTOR_SDK_FUZZ_EXAMPLES`` per target (100 by default, more in
``scripts/reliability``); figures ``fuzz.examples``.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector_sdk._manifest.embedded import _fast_meta_validator, _meta_validator
from connector_sdk._manifest.loader import load_manifest
from connector_sdk._manifest.package import fast_is_valid, fast_validator
from connector_sdk._manifest.regex import RegexError, check_pattern, compile_pattern
from connector_sdk._manifest.schemas import validator as package_validator

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(600)]

EXAMPLES = int(os.environ.get("CONNECTOR_SDK_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=3), derandomize=True,
                database=None, suppress_health_check=list(HealthCheck))

ROOT = Path(__file__).parents[2]
BASE = yaml.safe_load((ROOT / "tests/manifest/fixtures/valid/acme.yaml").read_text())
CANARY = "schema-fuzz-canary-41d9"
HOSTILE_STRINGS = ("a" * 20_000 + "!", "x" * 10_000 + "\n", "-" * 20_000, "ab" * 10_000)


class Seen:
    """Audit events while active: ``socket.connect`` and ``open`` of the canary."""

    events: list[str] = []
    active = False
    path = ""

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if not cls.active:
            return
        if event == "socket.connect" or (event == "open" and cls.path
                                         and cls.path in str(args[0])):
            cls.events.append(f"{event} {args!r:.200}")


@pytest.fixture(scope="module")
def hostile_targets(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/s.json").respond_with_json({"const": CANARY})
    server.start()
    canary = tmp_path_factory.mktemp("fuzz") / "canary.json"
    canary.write_text(json.dumps({"const": CANARY}))
    sys.addaudithook(Seen.hook)
    Seen.path = str(canary)
    yield {"server": server, "url": server.url_for("/s.json"), "file": str(canary)}
    server.stop()


@pytest.fixture
def examples(figures: Any) -> Any:
    class Counter:
        n = 0

        def __call__(self) -> None:
            self.n += 1

    counter = Counter()
    yield counter
    figures.add("fuzz.examples", counter.n)


# -- strategies ------------------------------------------------------------------------------

REGEX_BITS = ["a", "b", "(", ")", "(?:", "+", "*", "?", "{2}", "{1,1001}", "{0,}", "[", "]",
              "[^", "a-z", "^", "$", "\\", "\\d", "\\w", "\\s", "\\S", "|", ".", "(?=",
              "(?!", "(?<=", "(?<!", "(?<n>", "\\1", "\\k<n>", "\\u0041", "\\u{1F600}",
              "\\cJ", "\\p{L}", "\\Z", "\\x{41}", "-", ",", "}", "{", "\u00e9", "\\/"]
REDOS = ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "(x+x+)+y", "^(\\w+\\s?)*$", "^([a-z]+)*[0-9]$",
         ".{1000}", "^(.{0,999}){1}$", "^[\\x{0}-\\x{10FFFF}]{1000}$"]
patterns = st.sampled_from(REDOS) | st.lists(st.sampled_from(REGEX_BITS), max_size=14).map(
    "".join) | st.text(max_size=20)


def reference_strategy(targets: dict[str, Any]) -> st.SearchStrategy[str]:
    url, path = targets["url"], targets["file"]
    host = url.split("/")[2]
    return st.sampled_from([
        url, url + "#/const", f"//{host}/s.json", f"file://{path}", path, "s.json",
        "../s.json", "file:///dev/zero", "urn:x:y", "#", "", "#/", "#/$defs/a", "#/$defs/b",
        "#/%24defs/a", "#/properties/x", "#/properties/x/default", "#/x-ext", "#anchor",
        "#missing", "#/allOf/0", "#/allOf/+0", "#/items", "%23", "#/$defs/a~1b", "\\\\x",
        f"HTTP://{host}/s.json", f" {url}", f"{url}\n", "mailto:a@b", "data:,{}",
    ]) | st.text(max_size=12)


@st.composite
def schemas(draw: st.DrawFn, targets: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    refs = reference_strategy(targets)
    schema: dict[str, Any] = {}
    for keyword in draw(st.lists(st.sampled_from([
            "$ref", "$dynamicRef", "$id", "$anchor", "$dynamicAnchor", "pattern", "type",
            "patternProperties", "properties", "$defs", "items", "allOf", "anyOf", "not",
            "additionalProperties", "unevaluatedProperties", "format", "default", "x-ext",
            "$schema"]), max_size=5, unique=True)):
        child = (lambda: draw(schemas(targets, depth + 1))) if depth < 2 else (lambda: {})
        if keyword in ("$ref", "$dynamicRef", "$id", "$schema"):
            schema[keyword] = draw(refs)
        elif keyword in ("$anchor", "$dynamicAnchor"):
            schema[keyword] = draw(st.sampled_from(["anchor", "meta", "a b", "1x"]))
        elif keyword == "pattern":
            schema[keyword] = draw(patterns)
        elif keyword == "type":
            schema[keyword] = draw(st.sampled_from(["string", "object", "array", "integer"]))
        elif keyword == "patternProperties":
            schema[keyword] = {draw(patterns): child()}
        elif keyword in ("properties", "$defs"):
            schema[keyword] = {draw(st.sampled_from(["a", "b", "x", "a/b"])): child()}
        elif keyword in ("items", "not", "additionalProperties", "unevaluatedProperties"):
            schema[keyword] = draw(st.booleans()) if draw(st.booleans()) else child()
        elif keyword in ("allOf", "anyOf"):
            schema[keyword] = [child() for _ in range(draw(st.integers(1, 2)))]
        elif keyword == "format":
            schema[keyword] = "regex"
        elif keyword == "default":
            schema[keyword] = draw(st.sampled_from([*REDOS, "a" * 31 + "!", "(", "(?=a)"]))
        else:
            schema[keyword] = {"$ref": draw(refs)}
    return schema


def manifest(schema: dict[str, Any], where: str) -> str:
    data = copy.deepcopy(BASE)
    data["operations"] = {"op": {"title": "t", "description": "d",
                                 "input": {"type": "object", "properties": {"x": {}}},
                                 "request": {"method": "GET", "path": "/x"}}}
    if where == "parameters":
        data["parameters"]["properties"]["client_id"] = {"type": "string", **schema}
    elif where == "input":
        data["operations"]["op"]["input"]["properties"]["x"] = schema
    else:
        data["operations"]["op"]["output"] = schema
    return yaml.safe_dump(data, allow_unicode=True)


def strategies_for(targets: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], str]]:
    return st.tuples(schemas(targets), st.sampled_from(["parameters", "input", "output"]))


# -- targets ---------------------------------------------------------------------------------


def test_manifests_with_refs_and_patterns_give_problems_retrieve_nothing_and_are_safe_to_run(
    hostile_targets: dict[str, Any], examples: Any
) -> None:
    server = hostile_targets["server"]

    @FUZZ
    @given(case=strategies_for(hostile_targets))
    def check(case: tuple[dict[str, Any], str]) -> None:
        examples()
        schema, where = case
        Seen.events, Seen.active = [], True
        try:
            service, problems = load_manifest(manifest(schema, where))
            if service is not None:
                params = service.parameters_validator()
                values = {"tenant": "t", "client_id": "c", "client_secret": "s"}
                for text in HOSTILE_STRINGS:
                    list(params.iter_errors({**values, "client_id": text}))
                for operation in service.operations.values():
                    checker = operation.input_validator(f"acme.{operation.id}")
                    for text in HOSTILE_STRINGS:
                        list(checker.iter_errors({"x": text, text: text}))
        finally:
            Seen.active = False
        assert Seen.events == []
        assert server.log == []
        assert all(CANARY not in p.message for p in problems)

    check()


def test_jsonschema_rs_never_accepts_what_jsonschema_refuses(
    hostile_targets: dict[str, Any], examples: Any
) -> None:
    manifest_schema = package_validator("manifest")

    @FUZZ
    @given(case=strategies_for(hostile_targets))
    def check(case: tuple[dict[str, Any], str]) -> None:
        examples()
        schema, where = case
        if fast_is_valid(_fast_meta_validator(), schema):
            assert list(_meta_validator().iter_errors(schema)) == [], schema
        data = yaml.safe_load(manifest(schema, where))
        if fast_is_valid(fast_validator("manifest"), data):
            assert list(manifest_schema.iter_errors(data)) == [], data

    check()


@FUZZ
@given(pattern=patterns)
def test_check_pattern_raises_only_regex_errors_and_what_it_accepts_matches_in_linear_time(
    pattern: str, examples: Any
) -> None:
    examples()
    try:
        check_pattern(pattern)  # what validate and every validator build accept
        compiled = compile_pattern(pattern)
    except RegexError as error:
        assert str(error)  # noqa: PT017
        return
    for text in HOSTILE_STRINGS:
        compiled.search(text)

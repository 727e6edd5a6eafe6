"""JSON Schema ``$ref`` never reaches the network or the disk (issue 10.1).

Each hostile schema points at a real loopback HTTP server that would answer with a schema,
and at a temporary file holding a canary. The proof is three-fold: the server logs no
request, an audit hook (``sys.addaudithook``) sees no ``socket.connect`` and no ``open`` of
the canary file, and the canary appears in no result. It holds for ``validate`` (where each
reference is a problem with its own rule id), for a plugin registering the manifest, and for
a service built around ``validate`` (authentication creation, an operation call, a workflow
step check), where the schema is refused before any validator runs; and the validators'
registry itself refuses retrieval.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector_sdk import ManifestError, hookimpl
from connector_sdk._manifest.dialect import build_validator
from connector_sdk._manifest.loader import build_service, load_manifest
from connector_sdk._manifest.model import Authentication
from connector_sdk._manifest.reader import load_yaml
from connector_sdk._operations.calls import call_operation
from connector_sdk._plugins.registry import ServiceRegistry
from connector_sdk._runtime.runtime import Runtime
from connector_sdk._workflows.checks import check_workflow_document

pytestmark = pytest.mark.timeout(60)

BASE = yaml.safe_load((Path(__file__).parent / "fixtures" / "valid" / "acme.yaml").read_text())
CANARY = "ref-canary-6b1f0e2a9c"


class Audit:
    """Records ``open`` and ``socket.connect`` events while active (hooks cannot be removed,
    so one is installed per process and switched on by each test)."""

    events: list[tuple[str, str]] = []
    active = False
    installed = False

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.active and event in ("open", "socket.connect"):
            cls.events.append((event, repr(args[0]) if event == "open" else repr(args[1])))


@pytest.fixture
def audit(targets: dict[str, str]) -> Iterator[type[Audit]]:
    """Switched on once the targets exist (writing the canary file is an open too)."""
    if not Audit.installed:
        sys.addaudithook(Audit.hook)
        Audit.installed = True
    Audit.events = []
    Audit.active = True
    try:
        yield Audit
    finally:
        Audit.active = False


@pytest.fixture
def targets(httpserver: Any, tmp_path: Path) -> dict[str, str]:
    """Where hostile references point: a loopback server and a canary file."""
    answer = {"type": "string", "const": CANARY}
    httpserver.expect_request("/schema.json").respond_with_json(answer)
    canary = tmp_path / "canary.json"
    canary.write_text(json.dumps(answer))
    host = f"{httpserver.host}:{httpserver.port}"
    return {"url": f"http://{host}/schema.json", "file": str(canary), "host": host}


def hostile_cases(t: dict[str, str], here: str = "#/properties/client_id"
                  ) -> dict[str, tuple[dict[str, Any], str]]:
    """Schemas of a string property at ``here`` (a pointer from the root of the embedded
    schema), each with the rule validate gives."""
    url, path = t["url"], t["file"]
    return {
        "http": ({"type": "string", "$ref": url}, "REF-NOT-LOCAL"),
        "http-fragment": ({"type": "string", "$ref": url + "#/const"}, "REF-NOT-LOCAL"),
        "network-path": ({"type": "string", "$ref": f"//{t['host']}/schema.json"},
                         "REF-NOT-LOCAL"),
        "file-url": ({"type": "string", "$ref": f"file://{path}"}, "REF-NOT-LOCAL"),
        "absolute-path": ({"type": "string", "$ref": path}, "REF-NOT-LOCAL"),
        "relative": ({"type": "string", "$ref": "canary.json"}, "REF-NOT-LOCAL"),
        "dev-zero": ({"type": "string", "$ref": "file:///dev/zero"}, "REF-NOT-LOCAL"),
        "dynamic-ref": ({"type": "string", "$dynamicRef": url}, "REF-NOT-LOCAL"),
        "id-rebases-local-ref": ({"type": "string", "$id": f"http://{t['host']}/",
                                  "allOf": [{"$ref": "schema.json"}]}, "REF-NOT-LOCAL"),
        "id-with-fragment-ref": ({"type": "string", "$id": f"file://{path}", "$ref": "#"},
                                 "REF-NOT-LOCAL"),
        "deep": ({"type": "string", "anyOf": [{"not": {"items": {"allOf": [
            {"$ref": url}]}}}]}, "REF-NOT-LOCAL"),
        "behind-local-ref": ({"type": "string", "$defs": {"x": {"$ref": url}},
                              "$ref": f"{here}/$defs/x"}, "REF-NOT-LOCAL"),
        "into-extension": ({"type": "string", "x-hidden": {"$ref": url},
                            "$ref": f"{here}/x-hidden"}, "REF-UNRESOLVED"),
        "into-default": ({"type": "string", "default": {"$ref": url},
                          "$ref": f"{here}/default"}, "REF-UNRESOLVED"),
        "missing-anchor": ({"type": "string", "$dynamicRef": "#meta"}, "REF-UNRESOLVED"),
    }


def manifest_with(schema: dict[str, Any], where: str) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["operations"] = {"get_thing": {
        "title": "Get a thing", "description": "One thing.",
        "input": {"type": "object", "properties": {"id": {"type": "string"}}},
        "request": {"method": "GET", "path": "/things"}}}
    if where == "parameters":
        data["parameters"]["properties"]["client_id"] = schema
    elif where == "input":
        data["operations"]["get_thing"]["input"]["properties"]["id"] = schema
    else:
        data["operations"]["get_thing"]["output"] = {"type": "object",
                                                     "properties": {"id": schema}}
    return data


def assert_nothing_retrieved(httpserver: Any, audit: type[Audit], targets: dict[str, str],
                             *texts: str) -> None:
    assert httpserver.log == []
    assert [e for e in audit.events if e[0] == "socket.connect"] == []
    assert [e for e in audit.events if "canary" in e[1] or "/dev/zero" in e[1]] == []
    for text in texts:
        assert CANARY not in text


@pytest.mark.parametrize("where", ["parameters", "input", "output"])
def test_validate_reports_every_reference_that_leaves_the_schema_and_retrieves_nothing(
    httpserver: Any, audit: type[Audit], targets: dict[str, str], where: str
) -> None:
    here = "#/properties/client_id" if where == "parameters" else "#/properties/id"
    for name, (schema, rule) in hostile_cases(targets, here).items():
        service, problems = load_manifest(yaml.safe_dump(manifest_with(schema, where)))
        assert service is None, name
        rules = {p.rule for p in problems}
        assert rule in rules, (name, [p.format_text() for p in problems])
        assert rules == {rule}, (name, [p.format_text() for p in problems])
        assert_nothing_retrieved(httpserver, audit, targets,
                                 *(p.format_text() for p in problems))


def test_local_references_still_work(audit: type[Audit]) -> None:
    """References resolve against the whole embedded schema (here ``parameters``)."""
    here = "#/properties/client_id/$defs"
    schema = {"type": "string", "$defs": {"id": {"type": "string", "pattern": "^[a-z]+$"},
                                          "named": {"$anchor": "named", "minLength": 2}},
              "allOf": [{"$ref": f"{here}/id"}, {"$ref": "#named"}]}
    service, problems = load_manifest(yaml.safe_dump(manifest_with(schema, "parameters")))
    assert problems == [] and service is not None
    data = manifest_with({**schema, "allOf": [{"$ref": "#/$defs/id"}]}, "parameters")
    assert {p.rule for p in load_manifest(yaml.safe_dump(data))[1]} == {"REF-UNRESOLVED"}
    validator = service.parameters_validator()
    params = {"tenant": "t", "client_secret": "s"}
    assert validator.is_valid({**params, "client_id": "abc"})
    assert not validator.is_valid({**params, "client_id": "a"})
    assert not validator.is_valid({**params, "client_id": "ABC"})
    assert [e for e in audit.events if e[0] == "socket.connect"] == []


def test_a_plugin_registering_such_a_manifest_is_refused_without_retrieval(
    httpserver: Any, audit: type[Audit], targets: dict[str, str], tmp_path: Path
) -> None:
    text = yaml.safe_dump(manifest_with(hostile_cases(targets)["http"][0], "input"))

    class Plugin:
        @hookimpl
        def register_services(self, register: Callable[[Any], None]) -> None:
            register(text)

    with Runtime(environ={}, home=tmp_path, extra_plugins={"acme": Plugin()}) as runtime:
        [failure] = [f for f in runtime.plugins.failures if f.plugin == "acme"]
        assert "REF-NOT-LOCAL" in {p.rule for p in failure.problems}
        assert "acme" not in runtime.services.services
    assert_nothing_retrieved(httpserver, audit, targets)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with Runtime(environ={}, home=tmp_path) as value:
        yield value


def install(runtime: Runtime, data: dict[str, Any]) -> Any:
    """A service built without ``validate`` (as a careless plugin could), installed."""
    service = build_service(data, source="<hostile>")
    runtime.services.services[service.id] = service
    return service


@pytest.mark.parametrize("name", ["http", "file-url", "dynamic-ref", "id-rebases-local-ref",
                                  "behind-local-ref", "into-extension", "dev-zero"])
def test_creating_an_authentication_refuses_the_schema_and_retrieves_nothing(
    httpserver: Any, audit: type[Audit], targets: dict[str, str], runtime: Runtime, name: str
) -> None:
    schema, rule = hostile_cases(targets)[name]
    install(runtime, manifest_with(schema, "parameters"))
    params = {"tenant": "t1", "client_id": CANARY, "client_secret": "s"}
    with pytest.raises(ManifestError) as exc:
        runtime.create_authentication("acme", "a", params)
    assert rule in str(exc.value) and "connector-sdk validate" in str(exc.value)
    assert runtime.list_authentications() == []
    assert_nothing_retrieved(httpserver, audit, targets, str(exc.value))


@pytest.mark.parametrize("name", ["http", "file-url", "absolute-path", "deep", "into-default"])
def test_an_operation_call_refuses_the_schema_and_retrieves_nothing(
    httpserver: Any, audit: type[Audit], targets: dict[str, str], runtime: Runtime, name: str
) -> None:
    schema, rule = hostile_cases(targets, "#/properties/id")[name]
    service = install(runtime, manifest_with(schema, "input"))
    auth = Authentication("a", service, {"tenant": "t1", "client_id": "c", "client_secret": "s"})
    with pytest.raises(ManifestError) as exc:
        asyncio.run(call_operation(runtime, "acme.get_thing", auth, {"id": CANARY}))
    assert rule in str(exc.value)
    assert_nothing_retrieved(httpserver, audit, targets, str(exc.value))


def test_a_workflow_step_against_such_an_operation_is_a_problem_not_a_retrieval(
    httpserver: Any, audit: type[Audit], targets: dict[str, str]
) -> None:
    data = manifest_with(hostile_cases(targets)["http"][0], "input")
    registry = ServiceRegistry(services={"acme": build_service(data, source="<hostile>")})
    doc, problems = load_yaml(yaml.safe_dump({
        "workflow_version": 1,
        "steps": [{"id": "one", "operation": "acme.get_thing", "authentication": "a",
                   "inputs": {"id": CANARY}}]}), "flow.yaml")
    assert doc is not None and problems == []
    found = check_workflow_document(doc, services=registry)
    assert [p.rule for p in found] == ["WORKFLOW-OPERATION-UNKNOWN"]
    assert "REF-NOT-LOCAL" in found[0].message
    assert_nothing_retrieved(httpserver, audit, targets, found[0].message)


def test_the_validators_registry_refuses_retrieval_even_for_a_schema_it_is_told_to_trust(
    httpserver: Any, audit: type[Audit], targets: dict[str, str]
) -> None:
    from referencing.exceptions import Unresolvable

    for ref in (targets["url"], f"file://{targets['file']}", "canary.json"):
        validator = build_validator({"$ref": ref}, name="test", trusted=True)
        with pytest.raises(Unresolvable):
            validator.is_valid(CANARY)
    assert_nothing_retrieved(httpserver, audit, targets)

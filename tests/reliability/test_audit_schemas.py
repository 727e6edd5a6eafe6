"""Audit classes of issue 10 in the embedded schemas: ``$ref`` retrieval and regex stalls.

Scenarios of ``scripts/reliability`` with their figures (``measured: ref.*``,
``measured: regex.*``); the class-by-class tests are in tests/manifest/test_no_retrieval.py
and tests/manifest/test_regex.py.

* ``H-ref-validate``: every reference that leaves the schema (URL, network path, file URL,
  path, relative, ``/dev/zero``, ``$dynamicRef``, ``$id``-rebased, behind a local ``$ref``)
  in every position (parameter, input, output) is a ``validate`` problem, and the loopback
  server that would answer it counts 0 requests;
* ``H-ref-runtime``: the same schemas in a service built around ``validate`` are refused at
  authentication creation and at an operation call, 0 requests;
* ``H-regex-validate``: the audit's manifest (``^(a+)+$``, a 31-character default), 77 s
  before: ``validate`` time;
* ``H-regex-event-loop``: the longest gap of a 1 ms ticker while ``call_operation`` refuses a
  1 MiB hostile input against the audit's pattern and against the costliest shape
  ``validate`` accepts (checked in a worker thread, which takes seconds for that shape).
"""

from __future__ import annotations

import asyncio
import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector_sdk import ManifestError, OperationError, Runtime
from connector_sdk._manifest.loader import build_service, load_manifest
from connector_sdk._manifest.model import Authentication
from connector_sdk._operations.calls import call_operation

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]

BASE = yaml.safe_load(
    (Path(__file__).parents[1] / "manifest" / "fixtures" / "valid" / "acme.yaml").read_text())
PARAMS = {"tenant": "t1", "client_id": "c", "client_secret": "s"}


def measure(request: pytest.FixtureRequest, name: str, value: float) -> None:
    request.node.user_properties.append((f"reliability.figure.{name}", value))


def with_schema(where: str, schema: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["operations"] = {"op": {"title": "t", "description": "d",
                                 "input": {"type": "object", "properties": {"x": {}}},
                                 "request": {"method": "GET", "path": "/x"}}}
    if where == "parameters":
        data["parameters"]["properties"]["client_id"] = {"type": "string", **schema}
    elif where == "input":
        data["operations"]["op"]["input"]["properties"]["x"] = schema
    else:
        data["operations"]["op"]["output"] = {"type": "object", "properties": {"x": schema}}
    return data


def leaving_references(url: str, host: str, canary: str) -> list[dict[str, Any]]:
    return [{"$ref": url}, {"$ref": f"//{host}/s.json"}, {"$ref": f"file://{canary}"},
            {"$ref": canary}, {"$ref": "s.json"}, {"$ref": "file:///dev/zero"},
            {"$dynamicRef": url}, {"$id": f"http://{host}/", "allOf": [{"$ref": "s.json"}]},
            {"allOf": [{"not": {"items": {"$ref": url}}}]}]


@pytest.fixture
def server(httpserver: Any, tmp_path: Path) -> dict[str, Any]:
    httpserver.expect_request("/s.json").respond_with_json({"const": "from-the-server"})
    canary = tmp_path / "canary.json"
    canary.write_text('{"const": "from-the-file"}')
    host = f"{httpserver.host}:{httpserver.port}"
    return {"log": httpserver.log, "refs": leaving_references(f"http://{host}/s.json", host,
                                                              str(canary))}


def test_references_leaving_the_schema_are_validate_problems_not_requests(
    server: dict[str, Any], figures: Any, request: pytest.FixtureRequest
) -> None:
    figures.scenario("H-ref-validate")
    cases = 0
    for where in ("parameters", "input", "output"):
        for schema in server["refs"]:
            service, problems = load_manifest(yaml.safe_dump(with_schema(where, schema)))
            assert service is None and {p.rule for p in problems} == {"REF-NOT-LOCAL"}
            cases += 1
    measure(request, "ref.validate_cases", cases)
    measure(request, "ref.requests_received", len(server["log"]))
    assert server["log"] == []


def test_references_leaving_the_schema_are_refused_at_run_time_not_requested(
    server: dict[str, Any], figures: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    figures.scenario("H-ref-runtime")
    refused = 0
    with Runtime(environ={}, home=tmp_path) as runtime:
        for schema in server["refs"]:
            service = build_service(with_schema("parameters", schema), source="<built>")
            runtime.services.services[service.id] = service
            with pytest.raises(ManifestError):
                runtime.create_authentication("acme", "a", PARAMS)
            service = build_service(with_schema("input", schema), source="<built>")
            runtime.services.services[service.id] = service
            with pytest.raises(ManifestError):
                asyncio.run(call_operation(runtime, "acme.op",
                                           Authentication("a", service, PARAMS), {"x": "v"}))
            refused += 2
    measure(request, "ref.runtime_refusals", refused)
    measure(request, "ref.requests_received", len(server["log"]))
    assert server["log"] == []


def test_the_audits_hostile_pattern_validates_at_once(
    figures: Any, request: pytest.FixtureRequest
) -> None:
    figures.scenario("H-regex-validate")
    text = yaml.safe_dump(with_schema("parameters", {"pattern": "^(a+)+$",
                                                     "default": "a" * 31 + "!"}))
    started = time.perf_counter()
    _, problems = load_manifest(text)
    measure(request, "regex.validate_audit_manifest_ms", (time.perf_counter() - started) * 1e3)
    assert [p.rule for p in problems] == ["PARAMETER-DEFAULT-INVALID"]


async def _longest_gap(runtime: Runtime, auth: Authentication, value: dict[str, Any]) -> float:
    gaps: list[float] = []
    done = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    with pytest.raises(OperationError):
        await call_operation(runtime, "acme.op", auth, value)
    done = True
    await task
    return max(gaps)


@pytest.mark.parametrize("pattern", ["^(a+)+$", "[ab]*a[ab]{600}x"])
def test_a_hostile_input_does_not_stall_the_event_loop(
    pattern: str, figures: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import random

    figures.scenario("H-regex-event-loop")
    data = with_schema("input", {"type": "string", "pattern": pattern})
    data["operations"]["op"]["input"]["properties"]["n"] = {"type": "integer"}
    service, problems = load_manifest(yaml.safe_dump(data))
    assert service is not None, problems
    rng = random.Random(7)
    hostile = "".join(rng.choice("ab") for _ in range(1 << 20)) + "!"
    with Runtime(environ={}, home=tmp_path) as runtime:
        runtime.services.services[service.id] = service
        auth = Authentication("a", service, PARAMS)
        gap = asyncio.run(_longest_gap(runtime, auth, {"x": hostile, "n": "not a number"}))
    measure(request, "regex.event_loop_stall_ms", gap * 1e3)
    assert gap < 2.0, f"the event loop stalled {gap:.2f} s"  # inline, the worst takes ~10 s

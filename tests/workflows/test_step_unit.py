"""The unit an executor runs for one step or one foreach item: names and JSON in, an outcome
out, the same report whichever executor calls it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from connector_sdk import load_workflow
from connector_sdk._workflows.step import StepCall, render_call, run_step_call

MakeRuntime = Any  # conftest.make_runtime: (**options) -> (Runtime, CountingTransport)

FLOW = """\
workflow_version: 1
inputs:
  logins: {type: array, default: [twitchdev]}
steps:
  - {id: users, operation: twitch.get_users, authentication: twitch,
     foreach: "{{ inputs.logins }}", inputs: {login: ["{{ item }}"]}, limits: {max_pages: 1}}
"""


def test_a_rendered_call_carries_names_and_json_only(make_runtime: MakeRuntime) -> None:
    runtime, _ = make_runtime()
    step = load_workflow(FLOW.encode(), services=runtime.services).steps[0]
    call = render_call(step, {"inputs": {}, "steps": {}, "item": "twitchdev"}, item=3)
    assert call == StepCall("users", "twitch.get_users", "twitch", {"login": ["twitchdev"]},
                            item=3, max_pages=1)
    assert json.loads(json.dumps(dataclasses.asdict(call))) == dataclasses.asdict(call)


def test_the_unit_resolves_the_authentication_by_name_and_returns_the_output(
        make_runtime: MakeRuntime) -> None:
    runtime, transport = make_runtime()
    call = StepCall("users", "twitch.get_users", "twitch", {"login": ["twitchdev"]})
    outcome = asyncio.run(run_step_call(runtime, call))
    assert outcome.status == "succeeded" and outcome.error is None
    assert outcome.output["data"][0]["login"] == "twitchdev"
    assert [u.path for u in transport.requests].count("/helix/users") == 1


def test_a_failure_is_an_outcome_with_the_report_and_no_secret(
        make_runtime: MakeRuntime, canary: str) -> None:
    runtime, _ = make_runtime(twitch_secret=canary)  # the emulator expects another secret
    call = StepCall("users", "twitch.get_users", "twitch", {"login": ["x"]}, item=7)
    outcome = asyncio.run(run_step_call(runtime, call))
    assert outcome.status == "failed" and outcome.output is None
    assert outcome.error is not None
    assert {k: outcome.error[k] for k in ("step", "operation", "authentication", "service",
                                          "item", "type")} == {
        "step": "users", "operation": "twitch.get_users", "authentication": "twitch",
        "service": "twitch", "item": 7, "type": "TokenEndpointError"}
    assert canary not in json.dumps(outcome.error)


def test_an_authentication_of_another_service_fails_the_unit_not_the_caller(
        make_runtime: MakeRuntime) -> None:
    runtime, transport = make_runtime()
    call = StepCall("users", "twitch.get_users", "shopify", {"login": ["x"]})
    outcome = asyncio.run(run_step_call(runtime, call))
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error["type"] == "AuthenticationMismatch"
    assert transport.requests == []

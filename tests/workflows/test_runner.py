"""Running workflows against the Twitch and Shopify emulators through a real runtime."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import (
    EventLoopError,
    WorkflowError,
    load_workflow,
    run_workflow,
    run_workflow_sync,
)
from connector_sdk._workflows.results import RunEvent

MakeRuntime = Any  # conftest.make_runtime: (**options) -> (Runtime, CountingTransport)
Clock = Any  # conftest.Clock

EXAMPLES = Path(__file__).parents[2] / "examples"


def workflow(text: str, runtime: Any = None) -> Any:
    return load_workflow(text.encode(), file="<test>",
                         services=runtime.services if runtime else None)


def test_twitch_example_runs_with_one_token_and_one_client(
        make_runtime: MakeRuntime, twitch: TwitchSandbox) -> None:
    runtime, transport = make_runtime()
    flow = load_workflow(EXAMPLES / "twitch-top-streams.yaml", services=runtime.services)
    events: list[RunEvent] = []
    result = run_workflow_sync(runtime, flow, {"streams": 4}, on_event=events.append)
    assert result.status == "succeeded", result.error
    steps = result.as_dict()["steps"]
    assert [s["status"] for s in steps.values()] == ["succeeded"] * 3
    streams = steps["streams"]["output"]["data"]
    assert len(streams) == 4
    assert all(s["game_id"] == steps["top_games"]["output"]["data"][0]["id"] for s in streams)
    # foreach outputs are in input order, one per stream
    users = steps["streamers"]["output"]
    assert [u["data"][0]["id"] for u in users] == [s["user_id"] for s in streams]
    assert [i["index"] for i in steps["streamers"]["items"]] == [0, 1, 2, 3]
    assert result.outputs["top_game"] == steps["top_games"]["output"]["data"][0]["name"]
    assert twitch.token_requests == 1
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("step_started") == kinds.count("step_finished") == 3
    json.dumps(result.as_dict())  # JSON-ready as it is


def test_shopify_example_runs(make_runtime: MakeRuntime, shopify: ShopifySandbox) -> None:
    runtime, _ = make_runtime()
    flow = load_workflow(EXAMPLES / "shopify-catalog.yaml", services=runtime.services)
    result = run_workflow_sync(runtime, flow, {"products": 3})
    assert result.status == "succeeded", result.error
    assert len(result.outputs["products"]) == 3
    assert len(result.outputs["inventory"]) == 3
    assert isinstance(result.outputs["active_products"], int)
    assert result.outputs["shop"].endswith(".myshopify.com, CAD)")
    assert shopify.token_requests == 1


def test_failing_step_report_names_everything_but_no_secret(
        make_runtime: MakeRuntime, canary: str) -> None:
    runtime, _ = make_runtime(twitch_secret=canary)  # the emulator expects another secret
    flow = workflow("""
workflow_version: 1
steps:
  - {id: games, operation: twitch.get_top_games, authentication: twitch, inputs: {first: 2},
     limits: {max_pages: 1}}
  - {id: streams, operation: twitch.get_streams, authentication: twitch}
""", runtime)
    result = run_workflow_sync(runtime, flow)
    report = result.as_dict()
    assert result.status == "failed" and not result.ok
    error = report["error"]
    assert error["step"] == "games"
    assert error["operation"] == "twitch.get_top_games"
    assert error["authentication"] == "twitch"
    assert error["status"] == 403
    assert error["provider_message"] == "invalid client secret"
    assert report["steps"]["streams"]["status"] == "skipped"
    text = result.to_json()
    assert canary not in text
    with pytest.raises(WorkflowError) as info:
        result.raise_for_status()
    assert info.value.step == "games" and canary not in str(info.value)


def test_api_error_reports_http_status_and_provider_message(make_runtime: MakeRuntime) -> None:
    runtime, _ = make_runtime()
    flow = workflow("""
workflow_version: 1
steps:
  - {id: streams, operation: twitch.get_streams, authentication: twitch,
     inputs: {after: not-a-cursor}}
""", runtime)
    error = run_workflow_sync(runtime, flow).error
    assert error is not None
    assert (error["step"], error["status"], error["provider_message"]) == (
        "streams", 400, "Invalid cursor.")
    assert error["type"] == "APIError"


@pytest.mark.parametrize("sdk_sees_expiry", [True, False], ids=["sdk-clock", "server-401"])
def test_token_expiring_during_a_long_foreach_is_refreshed_exactly_once(
        make_runtime: MakeRuntime, twitch: TwitchSandbox, clock: Clock,
        sdk_sees_expiry: bool) -> None:
    twitch.token_lifetime = 3600
    options: dict[str, Any] = {}
    if sdk_sees_expiry:
        options = {"clock": clock, "wall_clock": clock}
    runtime, _ = make_runtime(delay=0.001, **options)
    logins = [u["login"] for u in twitch.data.users[:200]]
    flow = workflow("""
workflow_version: 1
inputs: {logins: {type: array}}
steps:
  - id: users
    operation: twitch.get_users
    authentication: twitch
    foreach: "{{ inputs.logins }}"
    concurrency: 20
    inputs: {login: ["{{ item }}"]}
""", runtime)
    moved = []

    def on_event(event: RunEvent) -> None:
        if event.kind == "foreach_progress" and event.done >= 80 and not moved:
            clock.advance(3700)  # every token minted so far is now expired
            moved.append(event.done)

    result = run_workflow_sync(runtime, flow, {"logins": logins}, on_event=on_event)
    assert result.status == "succeeded", result.error
    assert moved
    assert twitch.token_requests == 2  # the first token, and exactly one refresh
    output = result.steps["users"].output
    assert [o["data"][0]["login"] for o in output] == logins


def test_foreach_respects_concurrency_and_keeps_input_order(make_runtime: MakeRuntime,
                                                           twitch: TwitchSandbox) -> None:
    runtime, transport = make_runtime(delay=0.005)
    ids = [g["id"] for g in twitch.data.games[:30]]
    flow = workflow("""
workflow_version: 1
inputs: {ids: {type: array}}
steps:
  - id: games
    operation: twitch.get_games
    authentication: twitch
    foreach: "{{ inputs.ids }}"
    concurrency: 4
    inputs: {id: ["{{ item }}"]}
""", runtime)
    result = run_workflow_sync(runtime, flow, {"ids": ids})
    assert result.status == "succeeded"
    assert transport.max_in_flight == 4
    assert [o["data"][0]["id"] for o in result.steps["games"].output] == ids


def test_continue_on_error_records_failed_items_and_goes_on(make_runtime: MakeRuntime,
                                                           twitch: TwitchSandbox) -> None:
    runtime, _ = make_runtime()
    good = twitch.data.games[0]["id"]
    flow = workflow(f"""
workflow_version: 1
steps:
  - id: videos
    operation: twitch.get_videos
    authentication: twitch
    foreach: ["{good}", "999999999", "{good}"]
    continue_on_error: true
    inputs: {{game_id: "{{{{ item }}}}", first: 1}}
    limits: {{max_pages: 1}}
  - id: after
    operation: twitch.get_top_games
    authentication: twitch
    inputs: {{first: 1}}
    limits: {{max_pages: 1}}
""", runtime)
    result = run_workflow_sync(runtime, flow)
    assert result.status == "partial" and result.ok
    step = result.as_dict()["steps"]["videos"]
    assert [i["status"] for i in step["items"]] == ["succeeded", "failed", "succeeded"]
    assert step["items"][1]["error"]["status"] == 404
    assert step["items"][1]["error"]["item"] == 1
    assert step["output"][1] is None and step["output"][0] is not None
    assert result.steps["after"].status == "succeeded"


def test_failing_item_stops_the_foreach_without_continue_on_error(
        make_runtime: MakeRuntime, twitch: TwitchSandbox) -> None:
    runtime, _ = make_runtime()
    good = twitch.data.games[0]["id"]
    items = json.dumps(["999999999"] + [good] * 50)
    flow = workflow(f"""
workflow_version: 1
steps:
  - id: videos
    operation: twitch.get_videos
    authentication: twitch
    foreach: {items}
    concurrency: 1
    inputs: {{game_id: "{{{{ item }}}}", first: 1}}
    limits: {{max_pages: 1}}
""", runtime)
    result = run_workflow_sync(runtime, flow)
    assert result.status == "failed"
    statuses = [i.status for i in result.steps["videos"].items or []]
    assert statuses[0] == "failed" and set(statuses[1:]) == {"skipped"}
    assert result.error is not None and result.error["item"] == 0


def test_reference_to_a_failed_step_fails_the_later_step_clearly(
        make_runtime: MakeRuntime) -> None:
    runtime, _ = make_runtime()
    flow = workflow("""
workflow_version: 1
steps:
  - {id: streams, operation: twitch.get_streams, authentication: twitch,
     inputs: {after: bad}, continue_on_error: true}
  - {id: users, operation: twitch.get_users, authentication: twitch,
     inputs: {id: ["{{ steps.streams.data.0.user_id }}"]}}
""", runtime)
    result = run_workflow_sync(runtime, flow)
    assert result.status == "failed"
    assert result.error is not None and result.error["step"] == "users"
    assert "step 'streams' has no output" in result.error["message"]


FOREACH_INPUT = """
workflow_version: 1
inputs:
  ids: {type: array}
  first: {type: integer, default: 1}
steps:
  - id: first
    operation: twitch.get_top_games
    authentication: twitch
    inputs: {first: "{{ inputs.first }}"}
    limits: {max_pages: 1}
  - id: users
    operation: twitch.get_users
    authentication: twitch
    foreach: "{{ inputs.ids }}"
    inputs: {id: ["{{ item }}"]}
"""


@pytest.mark.parametrize(("inputs", "message"), [
    ({}, "input 'ids' (array) is required"),
    ({"ids": "1,2"}, "input 'ids' must be array, got str"),
    ({"ids": [], "first": True}, "input 'first' must be integer, got bool"),
    ({"ids": [], "colour": "red"}, "unknown input 'colour'"),
    ({"ids": ["1"] * 100_001}, "foreach has 100001 items, more than the limit of 100000"),
])
def test_bad_inputs_are_refused_before_any_request(
        make_runtime: MakeRuntime, inputs: dict[str, Any], message: str) -> None:
    runtime, transport = make_runtime()
    flow = workflow(FOREACH_INPUT, runtime)
    with pytest.raises(WorkflowError) as info:
        run_workflow_sync(runtime, flow, inputs)
    assert message in str(info.value)
    assert transport.requests == []


def test_foreach_over_the_limit_from_a_step_output_sends_none_of_its_items(
        make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connector_sdk._workflows.step.MAX_FOREACH_ITEMS", 2)
    runtime, transport = make_runtime()
    flow = workflow("""
workflow_version: 1
steps:
  - {id: games, operation: twitch.get_top_games, authentication: twitch, inputs: {first: 3},
     limits: {max_pages: 1}}
  - {id: details, operation: twitch.get_games, authentication: twitch,
     foreach: "{{ steps.games.data }}", inputs: {id: ["{{ item.id }}"]}}
""", runtime)
    result = run_workflow_sync(runtime, flow)
    assert result.status == "failed"
    assert result.error is not None and "more than the limit of 2" in result.error["message"]
    assert [u.path for u in transport.requests].count("/helix/games") == 0


def test_unknown_authentication_fails_before_any_request(make_runtime: MakeRuntime) -> None:
    runtime, transport = make_runtime()
    flow = workflow("""
workflow_version: 1
steps:
  - {id: games, operation: twitch.get_top_games, authentication: twitch, inputs: {first: 1},
     limits: {max_pages: 1}}
  - {id: shop, operation: shopify.get_shop, authentication: nobody}
""", runtime)
    result = run_workflow_sync(runtime, flow)
    assert result.status == "failed"
    assert result.error is not None
    assert (result.error["step"], result.error["authentication"]) == ("shop", "nobody")
    assert result.steps["games"].status == "skipped"
    assert transport.requests == []


def test_authentication_of_another_service_is_refused(make_runtime: MakeRuntime) -> None:
    runtime, transport = make_runtime()
    flow = workflow("""
workflow_version: 1
steps:
  - {id: shop, operation: shopify.get_shop, authentication: twitch}
""", runtime)
    result = run_workflow_sync(runtime, flow)
    assert result.error is not None and "is for service 'twitch'" in result.error["message"]
    assert transport.requests == []


def test_sync_entry_point_refuses_a_running_loop(make_runtime: MakeRuntime) -> None:
    runtime, _ = make_runtime()
    flow = workflow(FOREACH_INPUT, runtime)

    async def inside() -> None:
        with pytest.raises(EventLoopError, match="await run_workflow"):
            run_workflow_sync(runtime, flow, {"ids": []})
        result = await run_workflow(runtime, flow, {"ids": []})
        assert result.status == "succeeded"
        assert result.steps["users"].output == []

    asyncio.run(inside())


def test_sandbox_runtime_needs_no_stored_authentication(tmp_path: Path) -> None:
    from connector_sdk._runtime.runtime import Runtime

    with Runtime(sandbox=True, home=tmp_path) as runtime:
        flow = load_workflow(EXAMPLES / "twitch-top-streams.yaml", services=runtime.services)
        result = run_workflow_sync(runtime, flow)
    assert result.status == "succeeded"
    assert not (tmp_path / "authentications.db").exists()

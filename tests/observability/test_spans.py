"""The span tree of a workflow run on the in-process emulators, retries included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from connector_sdk import HttpSettings, Runtime, load_workflow, run_workflow_sync
from connector_sdk.sandbox import SandboxTransport
from connector_sdk.testing import FAST_RETRY

from .conftest import Flaky, Telemetry, once

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_workflow_run_is_one_trace_of_steps_items_operations_and_requests(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    with Runtime(sandbox=True, home=tmp_path) as runtime:
        flow = load_workflow(EXAMPLES / "twitch-top-streams.yaml", services=runtime.services)
        result = run_workflow_sync(runtime, flow, {"streams": 3})
    assert result.status == "succeeded"

    (run,) = telemetry.named("workflow ")
    assert run.parent is None
    assert run.attributes["connector_sdk.workflow"] == "twitch-top-streams"
    steps = telemetry.children(run)
    assert [s.name for s in steps] == ["step top_games", "step streams", "step streamers"]
    assert [s.attributes["connector_sdk.step"] for s in steps] == [
        "top_games", "streams", "streamers"]

    (first_call,) = telemetry.children(steps[0])
    assert first_call.name == "twitch.get_top_games"
    token, get = telemetry.children(first_call)
    assert token.name == "token twitch"
    assert token.attributes["connector_sdk.token.cache"] == "miss"
    assert token.attributes["connector_sdk.grant"] == "client_credentials"
    (post,) = telemetry.children(token)
    assert post.kind is SpanKind.CLIENT
    assert post.attributes["http.request.method"] == "POST"
    assert post.attributes["server.address"] == "id.twitch.tv"
    assert post.attributes["url.full"] == "https://id.twitch.tv/oauth2/token"
    assert get.attributes["url.full"] == "https://api.twitch.tv/helix/games/top"
    assert get.attributes["http.response.status_code"] == 200
    assert get.attributes["connector_sdk.operation"] == "twitch.get_top_games"
    assert get.attributes["connector_sdk.authentication"] == "twitch"

    items = telemetry.children(steps[2])
    assert [i.attributes["connector_sdk.item"] for i in
            sorted(items, key=lambda i: i.attributes["connector_sdk.item"])] == [0, 1, 2]
    for item in items:
        (call,) = telemetry.children(item)
        assert call.name == "twitch.get_users"
        (request,) = telemetry.children(call)  # the token is held: no lookup span
        assert request.name == "GET /helix/users"

    (revoke,) = telemetry.named("revoke twitch")  # the runtime's close, a trace of its own
    (revocation,) = telemetry.children(revoke)
    assert revocation.attributes["url.full"] == "https://id.twitch.tv/oauth2/revoke"
    traces = {s.context.trace_id for s in telemetry.spans()} - {revoke.context.trace_id}
    assert traces == {run.context.trace_id}
    assert all(s.status.status_code is not StatusCode.ERROR for s in telemetry.spans())


@pytest.fixture
def flaky_runtime(emulator: Callable[..., Any], tmp_path: Path) -> Any:
    twitch = emulator("twitch")
    inner = SandboxTransport(twitch)
    flaky = Flaky(inner)
    runtime = Runtime(home=tmp_path, http=HttpSettings(transport=inner, async_transport=flaky),
                      token_manager_options={"retry": FAST_RETRY})
    runtime.create_authentication("twitch", "twitch", twitch.parameters())
    yield runtime, flaky
    runtime.close()


def test_token_retries_429s_and_401s_are_attempts_of_their_request(
    telemetry: Telemetry, flaky_runtime: Any
) -> None:
    runtime, flaky = flaky_runtime
    flaky.rules += [once("/oauth2/token", 503), once("/helix/streams", 429, {"Retry-After": "0"}),
                    once("/helix/users", 401)]
    flow = load_workflow(EXAMPLES / "twitch-top-streams.yaml", services=runtime.services)
    result = run_workflow_sync(runtime, flow, {"streams": 1})
    assert result.status == "succeeded", result.error

    (token,) = [s for s in telemetry.named("token ")
                if s.attributes["connector_sdk.operation"] == "twitch.get_top_games"]
    failed, fetched = telemetry.children(token)
    assert [failed.attributes["connector_sdk.attempt"], fetched.attributes["connector_sdk.attempt"]
            ] == [1, 2]
    assert failed.attributes["http.response.status_code"] == 503
    assert failed.attributes["error.type"] == "503"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "503"
    assert fetched.attributes["http.response.status_code"] == 200

    (streams,) = telemetry.named("twitch.get_streams")
    limited, answered = telemetry.children(streams)
    assert limited.attributes["http.response.status_code"] == 429
    assert answered.attributes["connector_sdk.attempt"] == 2
    assert answered.attributes["http.request.resend_count"] == 1
    assert any(e.name == "connector_sdk.rate_limit.wait" for e in streams.events)

    (users,) = telemetry.named("twitch.get_users")
    rejected, lookup, resent = telemetry.children(users)
    assert rejected.attributes["http.response.status_code"] == 401
    assert lookup.name == "token twitch"
    assert [s.attributes["http.response.status_code"] for s in telemetry.children(lookup)
            ] == [200]
    assert resent.attributes["connector_sdk.attempt"] == 2
    assert resent.attributes["http.response.status_code"] == 200
    assert any(e.name == "connector_sdk.token.rejected" for e in rejected.events) or any(
        e.name == "connector_sdk.token.rejected" for e in users.events)

    assert telemetry.total("connector_sdk.token.rejected") == 1
    assert telemetry.total("connector_sdk.token.requests",
                           **{"connector_sdk.outcome": "unavailable"}) == 1
    assert telemetry.total("connector_sdk.token.requests",
                           **{"connector_sdk.outcome": "success"}) == 2
    assert telemetry.total("connector_sdk.token.cache",
                           **{"connector_sdk.token.cache": "miss"}) == 2
    durations = telemetry.points("http.client.request.duration")
    assert sum(p.count for p in durations) == len(telemetry.named("GET ")) + len(
        telemetry.named("POST "))
    assert {p.attributes.get("http.response.status_code") for p in durations} >= {
        200, 401, 429, 503}
    waits = telemetry.points("connector_sdk.rate_limit.wait")
    assert sum(p.count for p in waits) >= 1


def test_a_failed_item_marks_its_spans_failed_with_the_error_type(
    telemetry: Telemetry, flaky_runtime: Any, tmp_path: Path
) -> None:
    runtime, flaky = flaky_runtime
    flaky.rules.append(once("/helix/users", 500))
    text = (EXAMPLES / "twitch-top-streams.yaml").read_text().replace(
        "    concurrency: 5\n", "    concurrency: 1\n    continue_on_error: true\n")
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    flow = load_workflow(path, services=runtime.services)
    result = run_workflow_sync(runtime, flow, {"streams": 2})
    assert result.status == "partial"

    (failed_item,) = [s for s in telemetry.named("item ")
                      if s.status.status_code is StatusCode.ERROR]
    assert failed_item.status.description == "APIError"
    (call,) = telemetry.children(failed_item)
    assert call.attributes["error.type"] == "APIError"
    (request,) = telemetry.children(call)
    assert request.attributes["error.type"] == "500"
    (step,) = telemetry.named("step streamers")
    assert step.status.status_code is StatusCode.ERROR  # its result is failed
    (run,) = telemetry.named("workflow ")
    assert run.status.status_code is not StatusCode.ERROR  # the run is partial
    points = [p for p in telemetry.points("connector_sdk.operation.duration")
              if p.attributes.get("error.type") == "APIError"]
    assert sum(p.count for p in points) == 1


def test_a_step_call_run_alone_has_its_own_step_span_as_in_a_temporal_activity(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    """The Temporal activity runs ``run_step_call`` with no run or step span around it: the
    call opens the step (or item) span itself, with the operation and HTTP spans below."""
    from connector_sdk._workflows.step import StepCall, run_step_call

    with Runtime(sandbox=True, home=tmp_path) as runtime:
        outcome = asyncio.run(run_step_call(runtime, StepCall(
            step="games", operation="twitch.get_top_games", authentication="twitch",
            input={"first": 2}, max_pages=1)))
        item = asyncio.run(run_step_call(runtime, StepCall(
            step="users", operation="twitch.get_users", authentication="twitch",
            input={"login": ["nobody"]}, item=3)))
    assert outcome.status == "succeeded" and item.status == "succeeded"
    (step,) = telemetry.named("step games")
    assert step.parent is None
    assert step.attributes["connector_sdk.operation"] == "twitch.get_top_games"
    (call,) = telemetry.children(step)
    assert call.name == "twitch.get_top_games"
    (one,) = telemetry.named("item users")
    assert one.parent is None and one.attributes["connector_sdk.item"] == 3
    assert [s.name for s in telemetry.children(one)] == ["twitch.get_users"]

"""A run's rate-limit policy is passed explicitly and bounds every call of the run (the
runtime holds none), on a real loopback API answering 429."""

from __future__ import annotations

from typing import Any

import pytest

from connector_sdk import RateLimitPolicy, load_workflow, run_workflow_sync

from .conftest import FakeClock, LoopEnv, Sleeps

pytestmark = pytest.mark.timeout(60)

FLOW = b"""\
workflow_version: 1
steps:
  - {id: things, operation: loop.list_things, authentication: loop-auth}
"""


def test_the_runs_policy_bounds_the_waits_of_its_calls(loop: LoopEnv, httpserver: Any) -> None:
    loop.runtime.create_authentication("loop", "loop-auth", {"client_id": "app",
                                                             "client_secret": loop.secret})
    httpserver.expect_request("/api/things").respond_with_json(
        {"errors": "slow down"}, status=429, headers={"Retry-After": "0.5"})
    sleeps = Sleeps()
    flow = load_workflow(FLOW, services=loop.runtime.services)
    result = run_workflow_sync(loop.runtime, flow,
                               policy=RateLimitPolicy(max_waits=2, sleep=sleeps,
                                                      clock=FakeClock()))
    assert result.status == "failed" and result.error is not None
    assert result.error["type"] == "RateLimitError"
    assert sleeps.calls == [0.5, 0.5]  # two waits of the policy given, then the error
    assert len([e for e in httpserver.log if e[0].path == "/api/things"]) == 3
    assert not hasattr(loop.runtime, "rate_limit_policy")


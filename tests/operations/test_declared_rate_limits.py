"""A third-party manifest declares its own rate-limit headers, in both header styles, and the
core paces and waits by them against a real loopback API (pytest-httpserver): the core knows
no provider's header names. Sleeps are recorded on a fake clock, never slept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk._manifest.loader import load_manifest
from connector_sdk._operations.calls import call_operation
from connector_sdk._operations.ratelimit import RateLimitPolicy, rate_limit_delay
from connector_sdk._runtime.runtime import Runtime
from connector_sdk.testing import FakeClock, Sleeps

from .conftest import LOOP_MANIFEST, LoopPlugin

pytestmark = pytest.mark.timeout(30)

NOW = 1_800_000_000.0

#: The loopback service's parameters, token endpoint and hosts, as a service ``acme`` whose
#: own buckets and operations follow.
_HEAD = LOOP_MANIFEST[:LOOP_MANIFEST.index("rate_limits:")].replace("id: loop", "id: acme", 1)
MANIFEST = _HEAD + """\
rate_limits:
  points:
    style: reset_header
    limit_header: X-Quota-Size
    remaining_header: X-Quota-Left
    reset_header: X-Quota-Full-At
    window: 30
  calls:
    style: used_of_size
    header: X-Acme-Calls
    leak_window: 10
    min_leak_rate: 1
operations:
  points:
    title: Points
    description: Paced by a reset-header bucket.
    input: {{type: object}}
    request: {{method: GET, path: /points}}
    rate_limit: points
  calls:
    title: Calls
    description: Paced by a used/size bucket.
    input: {{type: object}}
    request: {{method: GET, path: /calls}}
    rate_limit: calls
"""


@pytest.fixture
def acme(httpserver: Any, tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """Runs ``acme.<operation>`` on one runtime (one shared bucket per bucket name)."""
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "acme-token-0123456789", "token_type": "bearer", "expires_in": 3600})
    plugin = LoopPlugin(httpserver.port)
    plugin.text = MANIFEST.format(port=httpserver.port)  # registers acme instead of loop
    runtime = Runtime(environ={}, home=tmp_path, allow_loopback=True,
                      extra_plugins={"acme": plugin})
    assert not runtime.plugins.failures, runtime.plugins.failures
    auth = runtime.authentication("acme", {"client_id": "app", "client_secret": "s" * 12},
                                  name="acme-auth")
    clock = FakeClock(NOW)
    sleeps = Sleeps(clock)
    policy = RateLimitPolicy(sleep=sleeps, clock=clock)

    def run(operation: str) -> None:
        asyncio.run(call_operation(runtime, f"acme.{operation}", auth, {}, policy=policy))

    run.sleeps = sleeps  # type: ignore[attr-defined]
    with runtime:
        yield run


def _sleeps(run: Callable[[str], None]) -> list[float]:
    return list(run.sleeps.calls)  # type: ignore[attr-defined]


def test_a_reset_header_bucket_paces_by_the_declared_headers(
    acme: Callable[[str], None], httpserver: Any
) -> None:
    # 10 points, none left, full again in 10 s: one point a second
    httpserver.expect_request("/api/points").respond_with_json({}, headers={
        "X-Quota-Size": "10", "X-Quota-Left": "0", "X-Quota-Full-At": str(int(NOW) + 10)})
    acme("points")
    assert _sleeps(acme) == []  # the first answer teaches the bucket
    acme("points")
    [wait] = _sleeps(acme)
    assert 1.0 <= wait <= 1.1 + 1e-9  # one refill interval, plus at most 10% jitter


def test_headers_the_manifest_does_not_declare_pace_nothing(
    acme: Callable[[str], None], httpserver: Any
) -> None:
    httpserver.expect_request("/api/points").respond_with_json({}, headers={
        "Ratelimit-Limit": "10", "Ratelimit-Remaining": "0",
        "Ratelimit-Reset": str(int(NOW) + 10),
        "X-Shopify-Shop-Api-Call-Limit": "40/40"})
    for _ in range(3):
        acme("points")
    assert _sleeps(acme) == []


def test_a_429_waits_one_point_of_the_declared_reset(
    acme: Callable[[str], None], httpserver: Any
) -> None:
    httpserver.expect_oneshot_request("/api/points").respond_with_json({}, status=429, headers={
        "X-Quota-Size": "10", "X-Quota-Full-At": str(int(NOW) + 20)})
    httpserver.expect_request("/api/points").respond_with_json({})
    acme("points")
    assert _sleeps(acme) == [2.0]  # 20 s to full over 10 points
    assert len([e for e in httpserver.log if e[0].path == "/api/points"]) == 2


def test_a_used_of_size_bucket_paces_at_the_declared_leak(
    acme: Callable[[str], None], httpserver: Any
) -> None:
    # 30 calls leak in 10 s: 3 a second, above the declared minimum of 1
    httpserver.expect_request("/api/calls").respond_with_json(
        {}, headers={"X-Acme-Calls": "30/30"})
    acme("calls")
    acme("calls")
    [wait] = _sleeps(acme)
    assert 1 / 3 <= wait <= 1.1 / 3 + 1e-9


def test_a_used_of_size_429_without_retry_after_waits_one_leak(
    acme: Callable[[str], None], httpserver: Any
) -> None:
    httpserver.expect_oneshot_request("/api/calls").respond_with_json(
        {}, status=429, headers={"X-Acme-Calls": "30/30"})
    httpserver.expect_request("/api/calls").respond_with_json({})
    acme("calls")
    [wait] = _sleeps(acme)  # one leak, held by the bucket (plus its jitter)
    assert 1 / 3 <= wait <= 1.1 / 3 + 1e-9


def test_retry_after_wins_over_the_declared_headers(
    acme: Callable[[str], None], httpserver: Any
) -> None:
    httpserver.expect_oneshot_request("/api/calls").respond_with_json(
        {}, status=429, headers={"X-Acme-Calls": "30/30", "Retry-After": "4"})
    httpserver.expect_request("/api/calls").respond_with_json({})
    acme("calls")
    assert _sleeps(acme) == [4.0]


def _limits() -> Any:
    service, problems = load_manifest(MANIFEST.format(port=8080))
    assert service is not None, problems
    return service.rate_limits


def test_the_minimum_leak_rate_holds_for_a_small_bucket() -> None:
    calls = _limits()["calls"]
    # 5 calls in 10 s would be one every 2 s; the declared minimum is 1 a second
    assert rate_limit_delay(429, {"x-acme-calls": "5/5"}, now=NOW, limit=calls) == 1.0


def test_a_style_without_its_headers_is_refused() -> None:
    text = MANIFEST.format(port=8080).replace("    reset_header: X-Quota-Full-At\n", "")
    service, problems = load_manifest(text)
    assert service is None
    assert [p.rule for p in problems] == ["SCHEMA-REQUIRED"]
    assert "reset_header" in problems[0].message


def test_an_undeclared_bucket_is_refused_with_the_fix() -> None:
    text = MANIFEST.format(port=8080).replace("rate_limit: calls", "rate_limit: cals")
    service, problems = load_manifest(text)
    assert service is None
    [problem] = problems
    assert problem.rule == "OPERATION-RATE-LIMIT-UNDECLARED"
    assert "did you mean 'calls'?" in problem.message
    assert "rate_limits:" in problem.message

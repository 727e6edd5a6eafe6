"""Each rate-limit signal is waited out within bounds (sleeps recorded, never slept), then
``RateLimitError``: Twitch Ratelimit-Reset, Shopify call limit + Retry-After, GraphQL
THROTTLED, and 429 + Retry-After in seconds, fractions and HTTP dates."""

from __future__ import annotations

import asyncio
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk._errors import RateLimitError
from connector_sdk._operations.calls import PageLimits, call_operation
from connector_sdk._operations.ratelimit import RateLimitPolicy, rate_limit_delay

from .conftest import FakeClock, LoopEnv, Sleeps, sandbox_env
from .shipped_limits import SHOPIFY_GRAPHQL, SHOPIFY_REST, TWITCH

pytestmark = pytest.mark.timeout(30)


def run(runtime: Any, name: str, auth: Any, input: dict[str, Any], **kwargs: Any) -> Any:
    return asyncio.run(call_operation(runtime, name, auth, input, **kwargs))


@pytest.mark.parametrize("mode", ["inprocess", "loopback"])
def test_twitch_429_waits_until_ratelimit_reset(tmp_path: Path, mode: str) -> None:
    clock = FakeClock()
    sleeps = Sleeps(clock)
    twitch = TwitchSandbox(rate_limit=3, clock=clock)
    policy = RateLimitPolicy(sleep=sleeps, clock=clock)
    with sandbox_env(mode, tmp_path, twitch=twitch) as env:
        out = run(env.runtime, "twitch.get_streams", env.auth("twitch"), {"first": 1},
                  limits=PageLimits(max_items=5), policy=policy)
    assert len(out["data"]) == 5
    assert sleeps.calls, "the empty bucket was waited for"
    # Ratelimit-Reset is the epoch when the bucket is full: 60 s for 3 points, from empty.
    assert all(0 < s <= 60 for s in sleeps.calls)
    assert twitch.requests_by_path["/helix/streams"] >= 5


def test_twitch_gives_up_after_the_allowed_waits(tmp_path: Path) -> None:
    clock = FakeClock()
    sleeps = Sleeps()  # time never passes: the bucket stays empty
    twitch = TwitchSandbox(rate_limit=1, clock=clock)
    with sandbox_env("inprocess", tmp_path, twitch=twitch) as env, \
            pytest.raises(RateLimitError) as caught:
        run(env.runtime, "twitch.get_streams", env.auth("twitch"), {"first": 1},
            limits=PageLimits(max_items=3),
            policy=RateLimitPolicy(max_waits=3, sleep=sleeps, clock=clock))
    error = caught.value
    # three counted waits; the shared bucket's pacing before each attempt counts for nothing
    assert len(sleeps.calls) > 3
    assert error.status == 429 and error.service == "twitch"
    assert error.operation == "twitch.get_streams" and error.authentication == "sbx"
    assert "still rate limited after 3 waits" in str(error)
    assert "Too Many Requests" in (error.provider_message or "")


def test_shopify_rest_full_bucket_paces_the_next_call_instead_of_a_429(tmp_path: Path) -> None:
    clock = FakeClock()
    sleeps = Sleeps(clock)
    shopify = ShopifySandbox(bucket_size=2, leak_rate=2.0, clock=clock)
    with sandbox_env("loopback", tmp_path, shopify=shopify) as env:
        auth = env.auth("shopify")
        policy = RateLimitPolicy(sleep=sleeps, clock=clock)
        for _ in range(2):
            run(env.runtime, "shopify.count_products", auth, {}, policy=policy)
        assert sleeps.calls == []
        out = run(env.runtime, "shopify.count_products", auth, {}, policy=policy)
    assert out["count"] > 0
    # X-Shopify-Shop-Api-Call-Limit: 2/2 told the runtime's bucket it is full: the third call
    # waits one leak (2 calls/s, plus at most 10% jitter) instead of drawing a 429
    [wait] = sleeps.calls
    assert 0.5 <= wait <= 0.55


def test_shopify_rest_full_call_limit_paces_the_next_page(tmp_path: Path) -> None:
    clock = FakeClock()
    sleeps = Sleeps(clock)
    shopify = ShopifySandbox(bucket_size=2, leak_rate=2.0, clock=clock)
    with sandbox_env("inprocess", tmp_path, shopify=shopify) as env:
        out = run(env.runtime, "shopify.list_products", env.auth("shopify"),
                  {"limit": 10, "fields": "id"}, limits=PageLimits(max_pages=4),
                  policy=RateLimitPolicy(max_waits=0, sleep=sleeps, clock=clock))
    assert len(out["products"]) == 40
    # paced one leak apart (plus at most 10% jitter), never a 429 (max_waits=0)
    assert sleeps.calls and all(0.5 <= s <= 0.55 for s in sleeps.calls)


def test_graphql_throttled_waits_cost_over_restore_rate(tmp_path: Path) -> None:
    clock = FakeClock()
    sleeps = Sleeps(clock)
    shopify = ShopifySandbox(graphql_bucket_size=30, graphql_restore_rate=10, clock=clock)
    query = {"query": "{ products(first: 20) { nodes { id } } }"}
    with sandbox_env("inprocess", tmp_path, shopify=shopify) as env:
        auth = env.auth("shopify")
        policy = RateLimitPolicy(sleep=sleeps, clock=clock)
        run(env.runtime, "shopify.graphql", auth, query, policy=policy)
        out = run(env.runtime, "shopify.graphql", auth, query, policy=policy)
    assert len(out["products"]["nodes"]) == 20
    [wait] = sleeps.calls
    # a connection costs 2 + 20 nodes = 22; 30 - 22 = 8 left: (22 - 8) / 10 = 1.4 s
    assert wait == pytest.approx(1.4, abs=0.01)


def test_graphql_still_throttled_raises_rate_limit_error(tmp_path: Path) -> None:
    clock = FakeClock()
    sleeps = Sleeps()
    shopify = ShopifySandbox(graphql_bucket_size=30, graphql_restore_rate=10, clock=clock)
    query = {"query": "{ products(first: 20) { nodes { id } } }"}
    with sandbox_env("inprocess", tmp_path, shopify=shopify) as env:
        auth = env.auth("shopify")
        policy = RateLimitPolicy(max_waits=2, sleep=sleeps, clock=clock)
        run(env.runtime, "shopify.graphql", auth, query, policy=policy)
        with pytest.raises(RateLimitError) as caught:
            run(env.runtime, "shopify.graphql", auth, query, policy=policy)
    assert len(sleeps.calls) == 2
    assert caught.value.operation == "shopify.graphql"
    assert caught.value.provider_message == "Throttled"


# -- generic 429 on a loopback API ------------------------------------------------------------


def _policy(clock: FakeClock, sleeps: Sleeps, **kwargs: Any) -> RateLimitPolicy:
    return RateLimitPolicy(sleep=sleeps, clock=clock, **kwargs)


@pytest.mark.parametrize(("header", "expected"), [
    ("0.25", 0.25),
    ("2", 2.0),
    (None, 1.0),
])
def test_429_retry_after_seconds(
    loop: LoopEnv, httpserver: Any, header: str | None, expected: float
) -> None:
    clock, sleeps = FakeClock(), Sleeps()
    headers = {"Retry-After": header} if header else {}
    httpserver.expect_oneshot_request("/api/things").respond_with_json(
        {"errors": "slow down"}, status=429, headers=headers)
    httpserver.expect_request("/api/things").respond_with_json({"things": [1, 2]})
    out = run(loop.runtime, "loop.list_things", loop.auth, {}, policy=_policy(clock, sleeps))
    assert out == {"things": [1, 2]}
    assert sleeps.calls == [expected]


def test_429_retry_after_http_date(loop: LoopEnv, httpserver: Any) -> None:
    clock, sleeps = FakeClock(1_781_650_000.0), Sleeps()
    when = formatdate(clock() + 7, usegmt=True)
    httpserver.expect_oneshot_request("/api/things").respond_with_json(
        {}, status=429, headers={"Retry-After": when})
    httpserver.expect_request("/api/things").respond_with_json({"things": []})
    run(loop.runtime, "loop.list_things", loop.auth, {}, policy=_policy(clock, sleeps))
    assert sleeps.calls == [7.0]


def test_each_wait_is_capped(loop: LoopEnv, httpserver: Any) -> None:
    clock, sleeps = FakeClock(), Sleeps()
    httpserver.expect_oneshot_request("/api/things").respond_with_json(
        {}, status=429, headers={"Retry-After": "3600"})
    httpserver.expect_request("/api/things").respond_with_json({"things": []})
    run(loop.runtime, "loop.list_things", loop.auth, {},
        policy=_policy(clock, sleeps, max_wait=5.0))
    assert sleeps.calls == [5.0]


def test_persistent_429_fails_with_the_providers_message(loop: LoopEnv, httpserver: Any) -> None:
    clock, sleeps = FakeClock(), Sleeps()
    httpserver.expect_request("/api/things").respond_with_json(
        {"errors": "Exceeded 2 calls per second"}, status=429, headers={"Retry-After": "1.5"})
    with pytest.raises(RateLimitError) as caught:
        run(loop.runtime, "loop.list_things", loop.auth, {}, policy=_policy(clock, sleeps))
    assert sleeps.calls == [1.5, 1.5, 1.5]
    assert caught.value.provider_message == "Exceeded 2 calls per second"
    assert "loop.list_things" in str(caught.value) and "loop-auth" in str(caught.value)
    assert len([e for e in httpserver.log if e[0].path == "/api/things"]) == 4


# -- pure readers -----------------------------------------------------------------------------


def test_rate_limit_delay_reads_each_signal() -> None:
    now = 1_000_000.0
    assert rate_limit_delay(200, {"retry-after": "3"}, now=now) is None
    assert rate_limit_delay(429, {"retry-after": "2.0"}, now=now) == 2.0
    reset = {"ratelimit-reset": str(int(now) + 12)}
    assert rate_limit_delay(429, reset, now=now, limit=TWITCH) == 12.0
    assert rate_limit_delay(429, {"ratelimit-reset": str(int(now) - 5)}, now=now,
                            limit=TWITCH) == 0.0
    full = {"x-shopify-shop-api-call-limit": "40/40"}
    assert rate_limit_delay(429, full, now=now, limit=SHOPIFY_REST) == 0.5
    assert rate_limit_delay(429, {"retry-after": "soon"}, now=now) == 1.0
    # the core reads no header a bucket does not declare
    assert rate_limit_delay(429, reset, now=now) == 1.0
    assert rate_limit_delay(429, full, now=now, limit=TWITCH) == 1.0
    assert rate_limit_delay(429, reset, now=now, limit=SHOPIFY_GRAPHQL) == 1.0

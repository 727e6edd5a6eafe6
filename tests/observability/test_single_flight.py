"""Single flight in the trace: one fetch, the waiters' spans linked to it; cache hits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector_sdk import HttpSettings, Runtime
from connector_sdk._auth.cache import MemoryTokenCache
from connector_sdk._auth.manager import TokenManager
from connector_sdk.sandbox import SandboxTransport
from connector_sdk.testing import FAST_RETRY

from .conftest import Flaky, Telemetry


def _runtime(home: Path, inner: SandboxTransport, delay: float = 0.0) -> Runtime:
    return Runtime(home=home,
                   http=HttpSettings(transport=inner, async_transport=Flaky(inner, delay=delay)),
                   token_manager_options={"retry": FAST_RETRY})


def test_concurrent_callers_wait_for_one_fetch_and_their_spans_link_to_it(
    telemetry: Telemetry, emulator: Callable[..., Any], tmp_path: Path
) -> None:
    twitch = emulator("twitch")
    # each request waits 0.3 s first: the other callers arrive while the fetch is in flight
    with _runtime(tmp_path, SandboxTransport(twitch), delay=0.3) as runtime:
        authentication = runtime.authentication("twitch", twitch.parameters())

        async def callers() -> list[Any]:
            return await asyncio.gather(*(runtime.tokens.aget_token(authentication)
                                          for _ in range(5)))

        tokens = asyncio.run(callers())
    assert len({t.access_token.reveal() for t in tokens}) == 1
    assert twitch.token_requests == 1

    lookups = telemetry.named("token twitch")
    assert len(lookups) == 5
    (leader,) = [s for s in lookups if s.attributes["connector_sdk.token.cache"] == "miss"]
    waiters = [s for s in lookups if s.attributes["connector_sdk.token.cache"] == "wait"]
    assert len(waiters) == 4
    (post,) = telemetry.children(leader)
    assert post.attributes["http.request.method"] == "POST"
    for waiter in waiters:
        assert telemetry.children(waiter) == []
        (link,) = waiter.links
        assert link.context.span_id == leader.context.span_id
        assert link.context.trace_id == leader.context.trace_id
        assert link.attributes["connector_sdk.link"] == "waited_for_fetch"
    assert telemetry.total("connector_sdk.token.cache", **{"connector_sdk.token.cache": "wait"}
                           ) == 4
    assert telemetry.total("connector_sdk.token.cache", **{"connector_sdk.token.cache": "miss"}
                           ) == 1
    assert telemetry.total("connector_sdk.token.requests") == 1


def test_a_token_from_the_shared_cache_is_a_hit_without_a_request(
    telemetry: Telemetry, emulator: Callable[..., Any], tmp_path: Path
) -> None:
    twitch = emulator("twitch")
    inner = SandboxTransport(twitch)
    cache = MemoryTokenCache()
    settings = HttpSettings(transport=inner, async_transport=inner)
    with Runtime(sandbox=True, home=tmp_path) as runtime:
        authentication = runtime.authentication("twitch", twitch.parameters())
    with TokenManager(cache=cache, settings=settings) as first, \
            TokenManager(cache=cache, settings=settings) as second:
        first.get_token(authentication)
        second.get_token(authentication)  # holds nothing yet: reads the shared cache
    assert twitch.token_requests == 1
    fetched, hit = telemetry.named("token twitch")
    assert fetched.attributes["connector_sdk.token.cache"] == "miss"
    assert hit.attributes["connector_sdk.token.cache"] == "hit"
    assert telemetry.children(hit) == []
    assert telemetry.total("connector_sdk.token.cache", **{"connector_sdk.token.cache": "hit"}
                           ) == 1


def test_two_runtimes_given_one_empty_cache_share_it(
    telemetry: Telemetry, emulator: Callable[..., Any], tmp_path: Path
) -> None:
    """An empty ``MemoryTokenCache`` is falsy (it has a length): the runtime must still use
    it, so the second runtime's lookup is a cache hit, not a second fetch."""
    twitch = emulator("twitch")
    inner = SandboxTransport(twitch)
    cache = MemoryTokenCache()
    settings = HttpSettings(transport=inner, async_transport=inner)
    with Runtime(home=tmp_path / "a", http=settings, token_cache=cache) as first, \
            Runtime(home=tmp_path / "b", http=settings, token_cache=cache) as second:
        first.get_token(first.authentication("twitch", twitch.parameters()))
        second.get_token(second.authentication("twitch", twitch.parameters()))
        assert twitch.token_requests == 1
    assert [s.attributes["connector_sdk.token.cache"] for s in telemetry.named("token ")
            ] == ["miss", "hit"]

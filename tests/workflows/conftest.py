"""Fixtures for workflow tests: a runtime whose stored authentications reach the emulators.

The runtime is a real one (SQLite store in a temporary home, token manager, network policy);
only the network is replaced, by the in-process Twitch and Shopify emulators, so a workflow
runs exactly as it would against the providers, token requests included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk._http.settings import HttpSettings
from connector_sdk._runtime.runtime import Runtime
from connector_sdk.sandbox import SandboxTransport
from connector_sdk.testing import FakeClock


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps the sandbox transport: counts requests in flight and yields to the loop once,
    so concurrent items really overlap."""

    def __init__(self, inner: SandboxTransport, delay: float = 0.0) -> None:
        self.inner = inner
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[httpx.URL] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.requests.append(request.url)
        try:
            await asyncio.sleep(self.delay)
            return await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1


@pytest.fixture
def clock(fake_clock: FakeClock) -> FakeClock:
    """The kit's clock, shared by the emulators and the token manager."""
    return fake_clock


@pytest.fixture
def twitch(emulator: Callable[..., Any], clock: FakeClock) -> TwitchSandbox:
    sandbox: TwitchSandbox = emulator("twitch", clock=clock)
    return sandbox


@pytest.fixture
def shopify(emulator: Callable[..., Any], clock: FakeClock) -> ShopifySandbox:
    sandbox: ShopifySandbox = emulator("shopify", clock=clock)
    return sandbox


MakeRuntime = Callable[..., tuple[Runtime, CountingTransport]]


@pytest.fixture
def make_runtime(tmp_path: Path, twitch: TwitchSandbox, shopify: ShopifySandbox
                 ) -> Iterator[MakeRuntime]:
    """``make_runtime(twitch_secret=None, delay=0, **token_manager_options)``: a runtime with
    stored authentications ``twitch`` and ``shopify`` that reach the emulators."""
    made: list[Runtime] = []

    def make(*, twitch_secret: str | None = None, delay: float = 0.0,
             **options: Any) -> tuple[Runtime, CountingTransport]:
        inner = SandboxTransport(twitch, shopify)
        counting = CountingTransport(inner, delay)
        runtime = Runtime(home=tmp_path / f"home{len(made)}",
                          http=HttpSettings(transport=inner, async_transport=counting),
                          token_manager_options=options or None)
        made.append(runtime)
        twitch_parameters = twitch.parameters()
        if twitch_secret is not None:
            twitch_parameters["client_secret"] = twitch_secret
        runtime.create_authentication("twitch", "twitch", twitch_parameters)
        runtime.create_authentication("shopify", "shopify", shopify.parameters())
        return runtime, counting

    yield make
    for runtime in made:
        runtime.close()

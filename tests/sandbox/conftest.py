"""Fixtures for the sandbox tests: emulators with a movable clock, and clients over them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import sys

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sandbox_helpers import FakeClock  # noqa: E402

from connector_sdk.sandbox import SandboxTransport, ShopifySandbox, TwitchSandbox  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def twitch(clock: FakeClock) -> TwitchSandbox:
    return TwitchSandbox(clock=clock)


@pytest.fixture
def shopify(clock: FakeClock) -> ShopifySandbox:
    return ShopifySandbox(clock=clock)


@pytest.fixture
def client(twitch: TwitchSandbox, shopify: ShopifySandbox) -> Iterator[httpx.Client]:
    with httpx.Client(transport=SandboxTransport(twitch, shopify), timeout=5) as c:
        yield c

"""Fixtures for the sandbox tests: emulators with a movable clock, and clients over them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox
from sandbox_helpers import FakeClock

from connector_sdk.sandbox import SandboxTransport


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

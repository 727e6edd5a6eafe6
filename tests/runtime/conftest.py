"""A loopback sandbox server shared by the runtime tests, and runtimes wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import Runtime
from connector_sdk.sandbox import SandboxServer


@pytest.fixture
def sandboxes() -> Iterator[tuple[TwitchSandbox, ShopifySandbox, SandboxServer]]:
    twitch, shopify = TwitchSandbox(), ShopifySandbox()
    with SandboxServer(twitch, shopify) as server:
        yield twitch, shopify, server


@pytest.fixture
def runtime(
    tmp_path: Path, sandboxes: tuple[TwitchSandbox, ShopifySandbox, SandboxServer]
) -> Iterator[Runtime]:
    """A runtime with its own home, routed (real URLs, real sockets) to the loopback sandbox."""
    environ = {"CONNECTOR_SDK_HOME": str(tmp_path / "home")}
    with Runtime(environ=environ, sandbox_url=sandboxes[2].url) as rt:
        yield rt

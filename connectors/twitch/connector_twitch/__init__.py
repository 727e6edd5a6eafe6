"""Twitch Helix for connector-sdk: the ``twitch`` service manifest and its emulator."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING, Any

import connector_sdk

if TYPE_CHECKING:
    from connector_sdk.sandbox import Emulator


@connector_sdk.hookimpl
def register_services(register: connector_sdk.ServiceRegistrar) -> None:
    register(files(__package__) / "twitch.yaml")


@connector_sdk.hookimpl
def register_emulators(register: connector_sdk.EmulatorRegistrar) -> None:
    register("twitch", _emulator)


def _emulator(**options: Any) -> Emulator:
    """A new ``TwitchSandbox``; imported here so loading the plugin stays cheap."""
    from .emulator import TwitchSandbox

    return TwitchSandbox(**options)

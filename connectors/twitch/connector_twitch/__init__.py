"""Twitch Helix for connector-sdk: registers the ``twitch`` service manifest."""

from importlib.resources import files

import connector_sdk


@connector_sdk.hookimpl
def register_services(register: connector_sdk.ServiceRegistrar) -> None:
    register(files(__package__) / "twitch.yaml")

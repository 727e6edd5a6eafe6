"""Shopify Admin API for connector-sdk: the ``shopify`` manifest, its GraphQL handler and its
emulator."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING, Any

import connector_sdk

if TYPE_CHECKING:
    from connector_sdk.sandbox import Emulator


@connector_sdk.hookimpl
def register_services(register: connector_sdk.ServiceRegistrar) -> None:
    register(files(__package__) / "shopify.yaml")


@connector_sdk.hookimpl
def register_operation_handlers(register: connector_sdk.HandlerRegistrar) -> None:
    from .graphql import graphql

    register("shopify.graphql", graphql)


@connector_sdk.hookimpl
def register_emulators(register: connector_sdk.EmulatorRegistrar) -> None:
    register("shopify", _emulator)


def _emulator(**options: Any) -> Emulator:
    """A new ``ShopifySandbox``; imported here so loading the plugin stays cheap."""
    from .emulator import ShopifySandbox

    return ShopifySandbox(**options)

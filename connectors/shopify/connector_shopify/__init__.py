"""Shopify Admin API for connector-sdk: registers the ``shopify`` service manifest."""

from importlib.resources import files

import connector_sdk


@connector_sdk.hookimpl
def register_services(register: connector_sdk.ServiceRegistrar) -> None:
    register(files(__package__) / "shopify.yaml")

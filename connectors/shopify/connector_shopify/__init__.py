"""Shopify Admin API for connector-sdk: the ``shopify`` manifest and its GraphQL handler."""

from importlib.resources import files

import connector_sdk


@connector_sdk.hookimpl
def register_services(register: connector_sdk.ServiceRegistrar) -> None:
    register(files(__package__) / "shopify.yaml")


@connector_sdk.hookimpl
def register_operation_handlers(register: connector_sdk.HandlerRegistrar) -> None:
    from .graphql import graphql

    register("shopify.graphql", graphql)

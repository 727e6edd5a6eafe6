"""The rate-limit declarations of the shipped connectors' manifests, read as the runtime
reads them: unit tests of the generic styles use these, so they check what the Twitch and
Shopify calls are paced with."""

from __future__ import annotations

from pathlib import Path

import connector_shopify
import connector_twitch

from connector_sdk._manifest.loader import load_service
from connector_sdk._manifest.model import RateLimitSpec

__all__ = ["SHOPIFY_GRAPHQL", "SHOPIFY_REST", "TWITCH"]


def _limits(package: object, manifest: str) -> dict[str, RateLimitSpec]:
    path = Path(str(getattr(package, "__file__", ""))).parent / manifest
    return dict(load_service(path).rate_limits)


TWITCH = _limits(connector_twitch, "twitch.yaml")["twitch"]
SHOPIFY_REST = _limits(connector_shopify, "shopify.yaml")["shopify_rest"]
SHOPIFY_GRAPHQL = _limits(connector_shopify, "shopify.yaml")["shopify_graphql"]

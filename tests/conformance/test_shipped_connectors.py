"""The shipped connectors pass the standard conformance suite, as any connector would: the
manifest, every operation against its emulator, and the token, 401, Retry-After and secret
checks against the kit's token and API servers standing at the manifests' real hosts."""

from __future__ import annotations

from connector_sdk.testing import ConnectorConformance


class TestTwitchConformance(ConnectorConformance):
    service_id = "twitch"
    inputs = {
        "get_users": {"login": ["twitchdev"]},
        "get_games": {"name": ["Chess"]},
        "search_channels": {"query": "speedrun"},
        "search_categories": {"query": "chess"},
        "get_channel_information": {"broadcaster_id": ["141981764"]},
        "get_videos": {"user_id": "141981764"},
        "get_followed_channels": {"user_id": "141981764"},
        "get_channel_followers": {"broadcaster_id": "141981764"},
        "get_broadcaster_subscriptions": {"broadcaster_id": "141981764"},
    }


class TestShopifyConformance(ConnectorConformance):
    service_id = "shopify"
    inputs = {
        "get_product": {"product_id": 8000004560305},
        "graphql": {"query": "{ shop { name } }"},
    }

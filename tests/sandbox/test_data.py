"""Seeded data: deterministic for a seed, different across seeds, sized for pagination; the
shipped emulators' credentials and how plugins register them."""

from __future__ import annotations

import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import EmulatorNotFound
from connector_sdk._plugins.manager import load_plugins


def test_same_seed_same_twitch_data() -> None:
    assert TwitchSandbox(seed=3).data == TwitchSandbox(seed=3).data
    assert TwitchSandbox(seed=3).data.streams != TwitchSandbox(seed=4).data.streams


def test_same_seed_same_shopify_data() -> None:
    first, second = ShopifySandbox(seed=1), ShopifySandbox(seed=1)
    assert first.data["my-store"] == second.data["my-store"]
    assert ShopifySandbox(seed=2).data["my-store"] != first.data["my-store"]


def test_data_is_large_enough_for_pagination() -> None:
    twitch = TwitchSandbox()
    assert len(twitch.data.streams) >= 250
    assert len(twitch.data.games) >= 100
    assert len({s["id"] for s in twitch.data.streams}) == len(twitch.data.streams)
    products = ShopifySandbox().data["my-store"].products
    assert len(products) >= 1000
    ids = [p["id"] for p in products]
    assert ids == sorted(set(ids))


def test_emulator_parameters_are_documented_shapes() -> None:
    twitch = TwitchSandbox().parameters()
    assert set(twitch) == {"client_id", "client_secret"}
    assert len(twitch["client_id"]) == 30 and twitch["client_id"].isalnum()
    shopify = ShopifySandbox().parameters()
    assert shopify["shopify_url"] == "my-store.myshopify.com"
    assert shopify["api_version"] == "2025-10"
    assert set(shopify) == {"shopify_url", "client_id", "client_secret", "api_version"}


def test_parameters_follow_the_configured_client_and_shop() -> None:
    twitch = TwitchSandbox(clients={"c" * 30: "s" * 30})
    assert twitch.parameters() == {"client_id": "c" * 30, "client_secret": "s" * 30}
    shopify = ShopifySandbox(shops=("other-shop",))
    assert shopify.parameters()["shopify_url"] == "other-shop.myshopify.com"
    first = twitch.parameters()
    first["client_id"] = "changed"
    assert twitch.parameters()["client_id"] == "c" * 30, "a fresh dict each call"


def test_connectors_register_their_emulators_through_the_hook() -> None:
    plugins = load_plugins({"CONNECTOR_SDK_LOAD_PLUGINS": "twitch,shopify"})
    assert plugins.failures == []
    assert sorted(plugins.registry.emulators) == ["shopify", "twitch"]
    registered = plugins.registry.emulator("twitch")
    assert registered.plugin == "twitch"
    assert registered.distribution == "connector-sdk-twitch"
    twitch = registered.create(rate_limit=5)
    assert isinstance(twitch, TwitchSandbox) and twitch.rate_limit == 5
    with pytest.raises(EmulatorNotFound, match="no emulator for service 'twitchh': did you"
                       " mean 'twitch'") as raised:
        plugins.registry.emulator("twitchh")
    assert raised.value.service == "twitchh"


def test_public_surface_is_sorted() -> None:
    import connector_sdk.sandbox as sandbox

    assert sandbox.__all__ == sorted(sandbox.__all__, key=lambda n: (not n.isupper(), n))
    for name in sandbox.__all__:
        assert hasattr(sandbox, name)

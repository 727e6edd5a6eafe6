"""Seeded data: deterministic for a seed, different across seeds, sized for pagination."""

from __future__ import annotations

import pytest

from connector_sdk._errors import ServiceNotFound
from connector_sdk.sandbox import (
    SANDBOX_NAMES,
    ShopifySandbox,
    TwitchSandbox,
    create_sandbox,
    sandbox_parameters,
)


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


def test_sandbox_parameters_are_documented_shapes() -> None:
    twitch = sandbox_parameters("twitch")
    assert set(twitch) == {"client_id", "client_secret"}
    assert len(twitch["client_id"]) == 30 and twitch["client_id"].isalnum()
    shopify = sandbox_parameters("shopify")
    assert shopify["shopify_url"] == "my-store.myshopify.com"
    assert shopify["api_version"] == "2025-10"
    assert set(shopify) == {"shopify_url", "client_id", "client_secret", "api_version"}
    with pytest.raises(ServiceNotFound):
        sandbox_parameters("tiktok")


def test_create_sandbox_by_name_passes_knobs() -> None:
    assert SANDBOX_NAMES == ("shopify", "twitch")
    twitch = create_sandbox("twitch", rate_limit=5)
    assert isinstance(twitch, TwitchSandbox) and twitch.rate_limit == 5
    with pytest.raises(ServiceNotFound):
        create_sandbox("nope")


def test_public_surface_is_sorted() -> None:
    import connector_sdk.sandbox as sandbox

    assert sandbox.__all__ == sorted(sandbox.__all__, key=lambda n: (not n.isupper(), n))
    for name in sandbox.__all__:
        assert hasattr(sandbox, name)

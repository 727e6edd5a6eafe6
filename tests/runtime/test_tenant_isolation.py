"""Tenant isolation under a wildcard host (issue 10.4): a client bound to one authentication
sends its token only to the hosts that authentication's own parameters render, whoever built
the URL (a caller, or a plugin's handler through ``runtime.client``)."""

from __future__ import annotations

import asyncio

import pytest

from connector_sdk import NetworkPolicyError, Runtime


@pytest.fixture
def runtime(tmp_path):
    with Runtime(sandbox=True, home=tmp_path) as runtime:
        yield runtime


def shop_a(runtime: Runtime):
    parameters = runtime.emulator("shopify").parameters()
    return runtime.authentication("shopify", parameters, name="shop-a")


def test_an_absolute_url_to_another_shop_is_refused_before_any_request(runtime):
    auth = shop_a(runtime)
    emulator = runtime.emulator("shopify")
    version = auth.parameters["api_version"]
    with runtime.client(auth) as client:
        assert client.get("shop.json").status_code == 200
        before = (emulator.token_requests, emulator.api_requests)
        with pytest.raises(NetworkPolicyError) as info:
            client.get(f"https://other-store.myshopify.com/admin/api/{version}/shop.json")
    assert (emulator.token_requests, emulator.api_requests) == before  # nothing was sent
    message = str(info.value)
    assert "other-store.myshopify.com" in message
    assert auth.parameters["shopify_url"] in message  # names the host it may call
    assert "authentication 'shop-a'" in message


def test_the_async_client_keeps_to_its_own_shop_too(runtime):
    auth = shop_a(runtime)
    version = auth.parameters["api_version"]

    async def call() -> None:
        async with runtime.async_client(auth) as client:
            await client.get(f"https://other-store.myshopify.com/admin/api/{version}/shop.json")

    with pytest.raises(NetworkPolicyError):
        asyncio.run(call())


def test_fixed_hosts_of_the_manifest_stay_reachable(runtime):
    # Twitch's allowed_hosts are exact names: every authentication may call each of them,
    # e.g. a handler validating its token at id.twitch.tv while base_url is api.twitch.tv.
    from connector_sdk._auth.attach import token_hosts

    twitch = runtime.authentication("twitch", runtime.emulator("twitch").parameters(), name="t")
    assert {"api.twitch.tv", "id.twitch.tv"} <= token_hosts(twitch, allow_loopback=False)
    shop = shop_a(runtime)
    assert token_hosts(shop, allow_loopback=False) == {shop.parameters["shopify_url"]}

"""The whole authorization-code flow against the emulators, in-process and over loopback:
begin, the consent page answered over HTTP, complete, then API calls with the user's token
and a refresh through the emulator's rotation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import Runtime
from connector_sdk.sandbox import SandboxServer

CALLBACK = "http://127.0.0.1:8765/oauth2/callback"


@pytest.fixture(params=["in-process", "loopback"])
def flow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, Any, Any]]:
    """A runtime, the Twitch emulator and the Shopify emulator it reaches."""
    if request.param == "in-process":
        runtime = Runtime(sandbox=True, home=tmp_path)
        yield runtime, runtime.emulator("twitch"), runtime.emulator("shopify")
        runtime.close()
        return
    twitch, shopify = TwitchSandbox(), ShopifySandbox()
    with SandboxServer(twitch, shopify) as server:
        runtime = Runtime(sandbox_url=server.url, home=tmp_path, allow_loopback=True)
        yield runtime, twitch, shopify
        runtime.close()


def test_twitch_user_token_flow_calls_helix_as_the_user(flow: tuple[Runtime, Any, Any]) -> None:
    runtime, twitch, _ = flow
    begun = runtime.begin_authorization("twitch", "viewer", twitch.parameters(),
                                        redirect_url=CALLBACK)
    record = runtime.complete_authorization(twitch.approve(begun.url))
    assert record.grant == "authorization_code" and record.status == "active"
    with runtime.client("viewer") as client:
        users = client.get("https://api.twitch.tv/helix/users")
        assert users.status_code == 200, users.text
        assert users.json()["data"][0]["email"] == "twitchdev@example.com"
        assert twitch.revoke_all_tokens() >= 1   # the next call gets a 401, then a refresh
        again = client.get("https://api.twitch.tv/helix/channels/followed",
                           params={"user_id": "141981764"})
    assert again.status_code == 200, again.text
    assert twitch.consent.refresh_tokens_spent == 1


def test_shopify_install_flow_with_a_signed_callback(flow: tuple[Runtime, Any, Any]) -> None:
    runtime, _, shopify = flow
    begun = runtime.begin_authorization("shopify", "store", shopify.parameters(),
                                        redirect_url=CALLBACK)
    record = runtime.complete_authorization(shopify.approve(begun.url))
    assert record.grant == "authorization_code"
    version = shopify.parameters()["api_version"]
    with runtime.client("store") as client:
        shop = client.get(f"https://my-store.myshopify.com/admin/api/{version}/shop.json")
        assert shop.status_code == 200, shop.text
        assert shopify.expire_all_tokens() == 1   # expiring=1: an hour, then a refresh
        products = client.get(
            f"https://my-store.myshopify.com/admin/api/{version}/products/count.json")
    assert products.status_code == 200, products.text
    assert shopify.consent.refresh_tokens_spent == 1

"""Helpers the sandbox tests share: the kit's movable clock and token fetchers."""

from __future__ import annotations

from typing import Any

import httpx
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk.testing import FakeClock

__all__ = ["ADMIN", "SHOP", "SHOPIFY", "TWITCH", "FakeClock", "graphql", "helix_headers",
           "shopify_token", "twitch_token"]

TWITCH = TwitchSandbox().parameters()
SHOPIFY = ShopifySandbox().parameters()
SHOP = "https://my-store.myshopify.com"
ADMIN = f"{SHOP}/admin/api/{SHOPIFY['api_version']}"


def twitch_token(client: httpx.Client) -> str:
    response = client.post("https://id.twitch.tv/oauth2/token", data={
        "client_id": TWITCH["client_id"], "client_secret": TWITCH["client_secret"],
        "grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def helix_headers(token: str, client_id: str = TWITCH["client_id"]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Client-Id": client_id}


def shopify_token(client: httpx.Client, shop: str = SHOP) -> str:
    response = client.post(f"{shop}/admin/oauth/access_token", data={
        "client_id": SHOPIFY["client_id"], "client_secret": SHOPIFY["client_secret"],
        "grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def graphql(client: httpx.Client, token: str, query: str, **variables: Any) -> httpx.Response:
    return client.post(f"{ADMIN}/graphql.json", json={"query": query, "variables": variables},
                       headers={"X-Shopify-Access-Token": token})

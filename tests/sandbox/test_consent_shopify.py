"""Shopify's authorization code grant: signed callbacks, code exchange, expiring tokens."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest
from connector_shopify.emulator import ShopifySandbox, sign_query
from consent_helpers import CALLBACK, authorization_url, callback_query
from sandbox_helpers import ADMIN, SHOP, SHOPIFY, FakeClock

SECRET = SHOPIFY["client_secret"]
AUTHORIZE = f"{SHOP}/admin/oauth/authorize"
TOKEN = f"{SHOP}/admin/oauth/access_token"
APP = {"client_id": SHOPIFY["client_id"], "client_secret": SECRET}


def start(shop: str = SHOP, **extra: str) -> str:
    params = {"client_id": SHOPIFY["client_id"], "scope": "read_products,write_orders",
              "redirect_uri": CALLBACK, "state": "nonce-7", **extra}
    return authorization_url(f"{shop}/admin/oauth/authorize", **params)


def exchange(client: httpx.Client, code: str, **extra: str) -> httpx.Response:
    return client.post(TOKEN, data={**APP, "code": code, **extra})


def code_of(shopify: ShopifySandbox, **extra: str) -> str:
    return callback_query(shopify.approve(start(**extra)))["code"]


def test_sign_query_matches_shopifys_documented_vector() -> None:
    params = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com",
              "state": "0.6784241404160823", "timestamp": "1337178173",
              "hmac": "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"}
    assert sign_query(params, "hush") == params["hmac"]


def test_approve_redirects_with_a_signed_callback(
        shopify: ShopifySandbox, clock: FakeClock) -> None:
    query = callback_query(shopify.approve(start()))
    assert list(query) == ["code", "hmac", "host", "shop", "state", "timestamp"]
    assert query["shop"] == "my-store.myshopify.com" and query["state"] == "nonce-7"
    assert query["timestamp"] == str(int(clock()))
    message = "&".join(f"{k}={v}" for k, v in sorted(query.items()) if k != "hmac")
    expected = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert query["hmac"] == expected
    tampered = {**query, "shop": "other-store.myshopify.com"}
    assert sign_query(tampered, SECRET) != query["hmac"]


def test_deny_redirects_with_a_signed_access_denied(shopify: ShopifySandbox) -> None:
    query = callback_query(shopify.approve(start(), deny=True))
    assert query["error"] == "access_denied" and query["state"] == "nonce-7"
    assert "code" not in query
    assert sign_query(query, SECRET) == query["hmac"]


def test_offline_code_exchange_is_a_non_expiring_token(
        shopify: ShopifySandbox, client: httpx.Client, clock: FakeClock) -> None:
    answer = exchange(client, code_of(shopify))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body) == ["access_token", "scope"]
    assert body["access_token"].startswith("shpat_")
    assert body["scope"] == "read_products,write_orders"
    clock.advance(365 * 86400)
    shop = client.get(f"{ADMIN}/shop.json",
                      headers={"X-Shopify-Access-Token": body["access_token"]})
    assert shop.status_code == 200


def test_expiring_exchange_has_a_refresh_token(
        shopify: ShopifySandbox, client: httpx.Client, clock: FakeClock) -> None:
    body = exchange(client, code_of(shopify), expiring="1").json()
    assert body["expires_in"] == 3600 and body["refresh_token_expires_in"] == 7776000
    assert body["refresh_token"].startswith("shprt_")
    clock.advance(3600)
    expired = client.get(f"{ADMIN}/shop.json",
                         headers={"X-Shopify-Access-Token": body["access_token"]})
    assert expired.status_code == 401


def test_refresh_rotates_and_the_old_refresh_token_is_invalid_grant(
        shopify: ShopifySandbox, client: httpx.Client) -> None:
    first = exchange(client, code_of(shopify), expiring="1").json()

    def refresh(token: str) -> httpx.Response:
        return client.post(TOKEN, data={**APP, "grant_type": "refresh_token",
                                        "refresh_token": token})

    rotated = refresh(first["refresh_token"])
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    spent = refresh(first["refresh_token"])
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    assert refresh(rotated.json()["refresh_token"]).status_code == 200


def test_refresh_token_expires_after_ninety_days(
        shopify: ShopifySandbox, client: httpx.Client, clock: FakeClock) -> None:
    body = exchange(client, code_of(shopify), expiring="1").json()
    clock.advance(7776000)
    answer = client.post(TOKEN, data={**APP, "grant_type": "refresh_token",
                                      "refresh_token": body["refresh_token"]})
    assert answer.json()["error"] == "invalid_grant"


def test_code_is_single_use_and_bound_to_its_shop(
        shopify: ShopifySandbox, client: httpx.Client) -> None:
    code = code_of(shopify)
    other = client.post("https://other-store.myshopify.com/admin/oauth/access_token",
                        data={**APP, "code": code})
    assert other.status_code == 400
    assert exchange(client, code).status_code == 400  # spent by the attempt above
    fresh = code_of(shopify)
    assert exchange(client, fresh).status_code == 200
    replay = exchange(client, fresh)
    assert replay.json() == {"error": "invalid_request", "error_description":
                             "The authorization code was not found or was already used"}


def test_per_user_access_is_an_online_token_with_its_user(
        shopify: ShopifySandbox, client: httpx.Client) -> None:
    code = callback_query(shopify.approve(start() + "&grant_options%5B%5D=per-user"))["code"]
    body = exchange(client, code).json()
    assert body["access_token"].startswith("shpua_") and body["expires_in"] == 86399
    assert body["associated_user_scope"] == "read_products,write_orders"
    assert body["associated_user"]["account_owner"] is True


def test_code_challenge_is_ignored_as_shopify_does(
        shopify: ShopifySandbox, client: httpx.Client) -> None:
    code = code_of(shopify, code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                   code_challenge_method="S256")
    assert exchange(client, code, code_verifier="wrong").status_code == 200


@pytest.mark.parametrize(("change", "text"), [
    ({"client_id": "0" * 32}, "client_id"),
    ({"redirect_uri": "https://evil.example/callback"}, "not whitelisted"),
    ({"scope": "read_products,Bad-Scope"}, "Scope undefined: Bad-Scope"),
])
def test_untrusted_requests_are_error_pages(
        client: httpx.Client, change: dict[str, str], text: str) -> None:
    answer = client.get(start(**change))
    assert answer.status_code == 400 and "location" not in answer.headers
    assert text in answer.text


def test_client_credentials_still_work_beside_the_code_grant(client: httpx.Client) -> None:
    answer = client.post(TOKEN, data={**APP, "grant_type": "client_credentials"})
    assert answer.status_code == 200 and answer.json()["expires_in"] == 86399
    missing = client.post(TOKEN, data=APP)
    assert missing.json()["error"] == "unsupported_grant_type"


def test_sign_query_escapes_like_the_sdks_check() -> None:
    """The emulator and the SDK sign one way: a value holding ``&name=value`` is not
    another parameter, so the two queries sign differently."""
    from connector_sdk.sandbox import sorted_query_signature

    plain = {"host": "H", "shop": "a.myshopify.com"}
    packed = {"host": "H&shop=a.myshopify.com"}
    assert sign_query(plain, SECRET) != sign_query(packed, SECRET)
    odd = {"k%=&": "v%=&", "hmac": "ignored"}
    assert sign_query(odd, SECRET) == sorted_query_signature(list(odd.items()), "hmac", SECRET)
    message = "k%25%3D%26=v%25=%26"
    assert sign_query(odd, SECRET) == hmac.new(SECRET.encode(), message.encode(),
                                               hashlib.sha256).hexdigest()

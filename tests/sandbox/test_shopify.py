"""Shopify emulation: client-credentials token, Admin REST, pagination and the leaky bucket."""

from __future__ import annotations

import re

import httpx
import pytest
from connector_shopify.emulator import ShopifySandbox
from sandbox_helpers import ADMIN, SHOP, SHOPIFY, FakeClock, shopify_token

from connector_sdk.sandbox import SandboxTransport

TOKEN_URL = f"{SHOP}/admin/oauth/access_token"
INVALID = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong "
           "password)"}
LINK = re.compile(r'<([^>]+)>; rel="(next|previous)"')


def _creds(**overrides: str) -> dict[str, str]:
    body = {"client_id": SHOPIFY["client_id"], "client_secret": SHOPIFY["client_secret"],
            "grant_type": "client_credentials"}
    body.update(overrides)
    return body


@pytest.fixture
def token(client: httpx.Client) -> str:
    return shopify_token(client)


@pytest.fixture
def get(client: httpx.Client, token: str):  # type: ignore[no-untyped-def]
    def call(path: str, **params: object) -> httpx.Response:
        url = path if path.startswith("https://") else f"{ADMIN}/{path}"
        # params=None, not {}: httpx 0.28 replaces a URL's query with an empty params dict.
        return client.get(url, params=params or None,  # type: ignore[arg-type]
                          headers={"X-Shopify-Access-Token": token})
    return call


# token endpoint ------------------------------------------------------------------------------

@pytest.mark.parametrize("as_json", [False, True])
def test_token_by_form_or_json_has_scope_and_no_token_type(
    client: httpx.Client, shopify: ShopifySandbox, as_json: bool
) -> None:
    kwargs = {"json": _creds()} if as_json else {"data": _creds()}
    response = client.post(TOKEN_URL, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "scope", "expires_in"}
    assert body["scope"] == "read_products,read_inventory"
    assert body["expires_in"] == 86399
    assert shopify.token_requests == 1


def test_bad_credentials_are_401_with_errors_string(client: httpx.Client) -> None:
    for creds in (_creds(client_secret="wrong"), _creds(client_id="0" * 32), {}):
        response = client.post(TOKEN_URL, data=creds)
        assert (response.status_code, response.json()) == (401, INVALID)


def test_shop_not_permitted_is_400_plain_text(client: httpx.Client) -> None:
    response = client.post("https://other-store.myshopify.com/admin/oauth/access_token",
                           data=_creds())
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == ("Oauth error shop_not_permitted: Client credentials cannot be "
                             "performed on this shop.")


def test_unknown_shop_is_404(client: httpx.Client) -> None:
    response = client.post("https://no-such-shop.myshopify.com/admin/oauth/access_token",
                           data=_creds())
    assert response.status_code == 404


# authentication ------------------------------------------------------------------------------

def test_missing_or_unknown_token_is_401(client: httpx.Client) -> None:
    for headers in ({}, {"X-Shopify-Access-Token": "f" * 32}):
        response = client.get(f"{ADMIN}/shop.json", headers=headers)
        assert (response.status_code, response.json()) == (401, INVALID)


def test_bearer_header_is_not_shopify_auth(client: httpx.Client, token: str) -> None:
    response = client.get(f"{ADMIN}/shop.json", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_token_expires_after_a_day(get, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(86398)
    assert get("shop.json").status_code == 200
    clock.advance(1)
    expired = get("shop.json")
    assert (expired.status_code, expired.json()) == (401, INVALID)


def test_token_of_one_shop_is_refused_by_another(clock: FakeClock) -> None:
    sandbox = ShopifySandbox(shops=("my-store", "second"), clock=clock, products_per_shop=3)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        token = shopify_token(c)
        other = c.get("https://second.myshopify.com/admin/api/2025-10/shop.json",
                      headers={"X-Shopify-Access-Token": token})
    assert other.status_code == 401


@pytest.mark.parametrize("version", ["latest", "2025-13", "25-10", "v1"])
def test_api_version_must_look_like_yyyy_mm(get, version: str) -> None:  # type: ignore[no-untyped-def]
    assert get(f"{SHOP}/admin/api/{version}/shop.json").status_code == 404


# REST resources ------------------------------------------------------------------------------

def test_shop_json(get) -> None:  # type: ignore[no-untyped-def]
    shop = get("shop.json").json()["shop"]
    assert shop["name"] == "My Store"
    assert shop["myshopify_domain"] == "my-store.myshopify.com"


def test_products_default_limit_and_count(get) -> None:  # type: ignore[no-untyped-def]
    response = get("products.json")
    assert len(response.json()["products"]) == 50
    assert get("products/count.json").json() == {"count": 1234}


def test_single_product_and_404(get, shopify: ShopifySandbox) -> None:  # type: ignore[no-untyped-def]
    product = shopify.data["my-store"].products[3]
    assert get(f"products/{product['id']}.json").json() == {"product": product}
    missing = get("products/1.json")
    assert (missing.status_code, missing.json()) == (404, {"errors": "Not Found"})


def test_fields_projection(get) -> None:  # type: ignore[no-untyped-def]
    products = get("products.json", fields="id,title", limit=5).json()["products"]
    assert [set(p) for p in products] == [{"id", "title"}] * 5


def test_link_header_walk_covers_every_product_once(get, shopify: ShopifySandbox) -> None:  # type: ignore[no-untyped-def]
    first = get("products.json", limit=250)
    assert 'rel="previous"' not in first.headers["link"]
    seen = [p["id"] for p in first.json()["products"]]
    response = first
    pages = 1
    while True:
        links = {rel: url for url, rel in LINK.findall(response.headers.get("link", ""))}
        if "next" not in links:
            break
        assert links["next"].startswith(f"{ADMIN}/products.json?")
        response = get(links["next"])  # used verbatim
        pages += 1
        seen += [p["id"] for p in response.json()["products"]]
    assert pages == 5
    assert seen == [p["id"] for p in shopify.data["my-store"].products]
    assert len(set(seen)) == 1234


def test_previous_link_goes_back(get) -> None:  # type: ignore[no-untyped-def]
    first = get("products.json", limit=10)
    next_url = LINK.search(first.headers["link"]).group(1)  # type: ignore[union-attr]
    second = get(next_url)
    links = {rel: url for url, rel in LINK.findall(second.headers["link"])}
    assert set(links) == {"next", "previous"}
    back = get(links["previous"])
    assert back.json()["products"] == first.json()["products"]


def test_limit_is_capped_at_250_and_a_single_page_has_no_link(clock: FakeClock) -> None:
    sandbox = ShopifySandbox(clock=clock, products_per_shop=7)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        token = shopify_token(c)
        response = c.get(f"{ADMIN}/products.json?limit=251",
                         headers={"X-Shopify-Access-Token": token})
    assert len(response.json()["products"]) == 7
    assert "link" not in response.headers


def test_bad_limit_and_page_info_are_400(get) -> None:  # type: ignore[no-untyped-def]
    assert get("products.json", limit=0).status_code == 400
    assert get("products.json", page_info="not-a-cursor").status_code == 400


# leaky bucket -------------------------------------------------------------------------------

def test_call_limit_header_counts_up_and_429_when_full(get, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    limits = [get("shop.json").headers["X-Shopify-Shop-Api-Call-Limit"] for _ in range(40)]
    assert limits[0] == "1/40" and limits[-1] == "40/40"
    throttled = get("shop.json")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2.0"
    assert throttled.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
    assert "errors" in throttled.json()
    clock.advance(2.0)  # leaks 4 calls at 2/s
    again = get("shop.json")
    assert again.status_code == 200
    assert again.headers["X-Shopify-Shop-Api-Call-Limit"] == "37/40"


def test_bucket_size_and_leak_rate_are_knobs(clock: FakeClock) -> None:
    sandbox = ShopifySandbox(clock=clock, bucket_size=2, leak_rate=1.0, products_per_shop=1)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        headers = {"X-Shopify-Access-Token": shopify_token(c)}
        url = f"{ADMIN}/shop.json"
        assert [c.get(url, headers=headers).status_code for _ in range(3)] == [200, 200, 429]
        clock.advance(1.0)
        assert c.get(url, headers=headers).status_code == 200
    assert sandbox.api_requests == 4
    assert sandbox.requests_by_path["/admin/api/2025-10/shop.json"] == 4

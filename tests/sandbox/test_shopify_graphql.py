"""Shopify Admin GraphQL emulation: the supported query shapes, cost and THROTTLED."""

from __future__ import annotations

import httpx
import pytest
from connector_shopify.emulator import ShopifySandbox
from sandbox_helpers import ADMIN, FakeClock, graphql, shopify_token

from connector_sdk.sandbox import SandboxTransport

PRODUCTS = """
query Products($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    edges { cursor node { id title handle } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
def token(client: httpx.Client) -> str:
    return shopify_token(client)


def test_shop_name_with_cost_extensions(client: httpx.Client, token: str) -> None:
    body = graphql(client, token, "{ shop { name myshopifyDomain } }").json()
    assert body["data"] == {"shop": {"name": "My Store",
                                     "myshopifyDomain": "my-store.myshopify.com"}}
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 and cost["actualQueryCost"] == 1
    assert cost["throttleStatus"] == {"maximumAvailable": 1000.0, "currentlyAvailable": 999,
                                      "restoreRate": 50.0}


def test_products_connection_pages_through_every_product(
    client: httpx.Client, token: str, shopify: ShopifySandbox, clock: FakeClock
) -> None:
    seen: list[str] = []
    after = None
    while True:
        body = graphql(client, token, PRODUCTS, first=250, after=after).json()
        assert "errors" not in body, body
        connection = body["data"]["products"]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        assert connection["edges"][-1]["cursor"] == connection["pageInfo"]["endCursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        clock.advance(10)  # let the cost bucket restore
    assert seen == [p["admin_graphql_api_id"] for p in shopify.data["my-store"].products]


def test_alias_nodes_and_literal_arguments(client: httpx.Client, token: str) -> None:
    query = '{ first: products(first: 2, reverse: true) { nodes { title status } } }'
    body = graphql(client, token, query).json()
    assert len(body["data"]["first"]["nodes"]) == 2
    assert body["extensions"]["cost"]["requestedQueryCost"] == 4


def test_product_by_id(client: httpx.Client, token: str, shopify: ShopifySandbox) -> None:
    gid = shopify.data["my-store"].products[0]["admin_graphql_api_id"]
    body = graphql(client, token, 'query($id: ID!) { product(id: $id) { id handle } }',
                   id=gid).json()
    assert body["data"]["product"]["id"] == gid


@pytest.mark.parametrize("query", [
    "mutation { productDelete(input: {id: 1}) { deletedProductId } }",
    "{ orders(first: 1) { edges { node { id } } } }",
    "{ shop { ...F } } fragment F on Shop { name }",
    "{ shop { billingAddress } }",
])
def test_unsupported_queries_say_so(client: httpx.Client, token: str, query: str) -> None:
    response = graphql(client, token, query)
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert "not supported by the sandbox" in error["message"]
    assert "data" not in response.json()


def test_syntax_error_reports_location(client: httpx.Client, token: str) -> None:
    (error,) = graphql(client, token, "{ shop { name }").json()["errors"]
    assert error["message"].startswith("Parse error")
    assert error["locations"][0]["line"] == 1


def test_missing_query_is_400(client: httpx.Client, token: str) -> None:
    response = client.post(f"{ADMIN}/graphql.json", json={},
                           headers={"X-Shopify-Access-Token": token})
    assert response.status_code == 400


def test_graphql_needs_a_valid_token(client: httpx.Client) -> None:
    response = graphql(client, "0" * 32, "{ shop { name } }")
    assert response.status_code == 401
    assert response.json()["errors"].startswith("[API] Invalid API key")


def test_throttled_when_the_cost_bucket_is_empty(clock: FakeClock) -> None:
    sandbox = ShopifySandbox(clock=clock, graphql_bucket_size=300, graphql_restore_rate=50,
                             products_per_shop=600)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        token = shopify_token(c)
        ok = graphql(c, token, PRODUCTS, first=250).json()
        assert ok["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 48
        throttled = graphql(c, token, PRODUCTS, first=250)
        assert throttled.status_code == 200
        body = throttled.json()
        assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert body["extensions"]["cost"]["actualQueryCost"] is None
        status = body["extensions"]["cost"]["throttleStatus"]
        wait = (body["extensions"]["cost"]["requestedQueryCost"]
                - status["currentlyAvailable"]) / status["restoreRate"]
        clock.advance(wait)
        assert "errors" not in graphql(c, token, PRODUCTS, first=250).json()


def test_query_above_the_bucket_is_max_cost_exceeded(clock: FakeClock) -> None:
    sandbox = ShopifySandbox(clock=clock, graphql_bucket_size=100, products_per_shop=3)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        body = graphql(c, shopify_token(c), PRODUCTS, first=200).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_page_size_above_250_is_an_error(client: httpx.Client, token: str) -> None:
    body = graphql(client, token, PRODUCTS, first=251).json()
    assert "errors" in body

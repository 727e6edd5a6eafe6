"""Every Twitch and Shopify operation against the emulators, in-process and over loopback,
with pagination across pages, at the limits, and streamed lazily."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from connector_shopify.emulator import PRODUCTS_PER_SHOP
from connector_twitch.emulator import LIVE_STREAMS

from connector_sdk._errors import APIError
from connector_sdk._operations.calls import (
    PageLimits,
    call_operation,
    call_operation_sync,
    stream_items,
)

from .conftest import SandboxEnv

pytestmark = pytest.mark.timeout(60)


def call(env: SandboxEnv, name: str, input: dict[str, Any], **kwargs: Any) -> Any:
    service = name.partition(".")[0]
    return call_operation_sync(env.runtime, name, env.auth(service), input, **kwargs)


def api_paths(env: SandboxEnv, service: str, suffix: str) -> int:
    counter = env.sandbox(service).requests_by_path
    return sum(n for path, n in counter.items() if path.endswith(suffix))


# -- Twitch -----------------------------------------------------------------------------------


def test_get_users_by_login_and_id(env: SandboxEnv) -> None:
    out = call(env, "twitch.get_users", {"login": ["twitchdev"], "id": ["141981764"]})
    assert [u["login"] for u in out["data"]] == ["twitchdev"]
    some = env.twitch.data.users[1:4]
    out = call(env, "twitch.get_users", {"login": [u["login"] for u in some]})
    assert {u["id"] for u in out["data"]} == {u["id"] for u in some}


def test_get_users_over_the_combined_limit_reports_twitchs_message(env: SandboxEnv) -> None:
    with pytest.raises(APIError) as caught:
        call(env, "twitch.get_users", {"login": [f"u{i}" for i in range(60)],
                                       "id": [str(i) for i in range(60)]})
    assert caught.value.status == 400
    assert "maximum allowed number" in (caught.value.provider_message or "")
    assert "twitch.get_users" in str(caught.value) and "sbx" in str(caught.value)


def test_get_streams_reads_every_page(env: SandboxEnv) -> None:
    out = call(env, "twitch.get_streams", {})
    assert len(out["data"]) == LIVE_STREAMS
    assert len({s["id"] for s in out["data"]}) == LIVE_STREAMS
    assert api_paths(env, "twitch", "/helix/streams") == 3  # 100 per page, asked for by the SDK


def test_get_streams_with_filters_and_page_size(env: SandboxEnv) -> None:
    game = env.twitch.data.streams[0]["game_id"]
    out = call(env, "twitch.get_streams", {"game_id": [game], "type": "live", "first": 2})
    assert out["data"] and all(s["game_id"] == game for s in out["data"])


@pytest.mark.parametrize(("limits", "items", "pages"), [
    (PageLimits(max_pages=2), 200, 2),
    (PageLimits(max_items=150), 150, 2),
    (PageLimits(max_items=5), 5, 1),
    (PageLimits(max_pages=1, max_items=1000), 100, 1),
    (PageLimits(max_items=100), 100, 1),
])
def test_streams_stop_at_the_limits(
    env: SandboxEnv, limits: PageLimits, items: int, pages: int
) -> None:
    out = call(env, "twitch.get_streams", {}, limits=limits)
    assert len(out["data"]) == items
    assert api_paths(env, "twitch", "/helix/streams") == pages


def test_explicit_page_size_is_kept(env: SandboxEnv) -> None:
    out = call(env, "twitch.get_streams", {"first": 50}, limits=PageLimits(max_pages=3))
    assert len(out["data"]) == 150
    assert api_paths(env, "twitch", "/helix/streams") == 3


def test_top_games_games_and_searches(env: SandboxEnv) -> None:
    top = call(env, "twitch.get_top_games", {"first": 10}, limits=PageLimits(max_pages=2))
    assert len(top["data"]) == 20
    name = top["data"][0]["name"]
    games = call(env, "twitch.get_games", {"name": [name]})
    assert [g["name"] for g in games["data"]] == [name]
    categories = call(env, "twitch.search_categories", {"query": name.split()[0]})
    assert any(c["name"] == name for c in categories["data"])
    login = env.twitch.data.streams[0]["user_login"]
    channels = call(env, "twitch.search_channels", {"query": login, "live_only": False})
    assert any(c["broadcaster_login"] == login for c in channels["data"])


def test_channel_information_and_videos(env: SandboxEnv) -> None:
    broadcaster = env.twitch.data.channels[0]["broadcaster_id"]
    info = call(env, "twitch.get_channel_information", {"broadcaster_id": [broadcaster]})
    assert [c["broadcaster_id"] for c in info["data"]] == [broadcaster]
    video = env.twitch.data.videos[0]
    by_user = call(env, "twitch.get_videos", {"user_id": video["user_id"], "sort": "views"})
    assert video["id"] in {v["id"] for v in by_user["data"]}
    by_id = call(env, "twitch.get_videos", {"id": [video["id"]]})
    assert [v["id"] for v in by_id["data"]] == [video["id"]]


# -- Shopify ----------------------------------------------------------------------------------


def test_shop_count_and_one_product(env: SandboxEnv) -> None:
    shop = call(env, "shopify.get_shop", {})
    assert shop["shop"]["myshopify_domain"] == "my-store.myshopify.com"
    assert call(env, "shopify.count_products", {}) == {"count": PRODUCTS_PER_SHOP}
    active = call(env, "shopify.count_products", {"status": "active"})["count"]
    assert 0 < active < PRODUCTS_PER_SHOP
    product = env.shopify.data["my-store"].products[7]
    for product_id in (product["id"], str(product["id"])):
        out = call(env, "shopify.get_product", {"product_id": product_id, "fields": "id,title"})
        assert out == {"product": {"id": product["id"], "title": product["title"]}}


def test_unknown_product_is_an_api_error_with_shopifys_message(env: SandboxEnv) -> None:
    with pytest.raises(APIError) as caught:
        call(env, "shopify.get_product", {"product_id": 1})
    assert caught.value.status == 404 and caught.value.provider_message == "Not Found"


def test_list_products_follows_link_headers_to_the_end(env: SandboxEnv) -> None:
    out = call(env, "shopify.list_products", {"fields": "id"})
    ids = [p["id"] for p in out["products"]]
    assert len(ids) == PRODUCTS_PER_SHOP == len(set(ids))
    assert ids == sorted(ids)
    assert api_paths(env, "shopify", "/products.json") == 5  # 250 per page


@pytest.mark.parametrize(("input", "limits", "items", "pages"), [
    ({"limit": 100}, PageLimits(max_pages=3), 300, 3),
    ({}, PageLimits(max_items=600), 600, 3),
    ({"limit": 250}, PageLimits(max_items=1), 1, 1),
])
def test_list_products_at_the_limits(
    env: SandboxEnv, input: dict[str, Any], limits: PageLimits, items: int, pages: int
) -> None:
    out = call(env, "shopify.list_products", {**input, "fields": "id"}, limits=limits)
    assert len(out["products"]) == items
    assert api_paths(env, "shopify", "/products.json") == pages


def test_list_products_with_a_status_filter_keeps_it_across_pages(env: SandboxEnv) -> None:
    out = call(env, "shopify.list_products", {"status": "draft", "limit": 50})
    drafts = [p for p in env.shopify.data["my-store"].products if p["status"] == "draft"]
    assert len(out["products"]) == len(drafts) > 50


def test_graphql_returns_data_with_variables(env: SandboxEnv) -> None:
    out = call(env, "shopify.graphql", {
        "query": "query($n: Int!) { shop { name } products(first: $n) { nodes { id title } } }",
        "variables": {"n": 3}})
    assert out["shop"]["name"] == "My Store"
    assert len(out["products"]["nodes"]) == 3


def test_graphql_errors_are_api_errors(env: SandboxEnv) -> None:
    with pytest.raises(APIError) as caught:
        call(env, "shopify.graphql", {"query": "{ shop { name "})
    assert caught.value.provider_message
    assert "shopify.graphql" in str(caught.value)


# -- streaming --------------------------------------------------------------------------------


def test_stream_fetches_pages_only_as_items_are_taken(env: SandboxEnv) -> None:
    async def take(n: int) -> list[Any]:
        taken = []
        stream = stream_items(env.runtime, "shopify.list_products", env.auth("shopify"),
                              {"limit": 50, "fields": "id"})
        async with contextlib.aclosing(stream) as items:
            async for item in items:
                taken.append(item)
                if len(taken) == 1:
                    assert api_paths(env, "shopify", "/products.json") == 1
                if len(taken) == n:
                    break
        return taken

    taken = asyncio.run(take(60))
    assert len(taken) == 60
    assert api_paths(env, "shopify", "/products.json") == 2


def test_stream_yields_every_item_in_order(env: SandboxEnv) -> None:
    async def collect() -> list[Any]:
        stream = stream_items(env.runtime, "twitch.get_streams", env.auth("twitch"), {},
                              limits=PageLimits(max_items=230))
        return [item async for item in stream]

    items = asyncio.run(collect())
    whole = call(env, "twitch.get_streams", {}, limits=PageLimits(max_items=230))["data"]
    assert [i["id"] for i in items] == [s["id"] for s in whole]


def test_stream_of_an_unpaginated_operation_yields_its_output_once(env: SandboxEnv) -> None:
    async def collect() -> list[Any]:
        return [i async for i in stream_items(env.runtime, "shopify.count_products",
                                              env.auth("shopify"), {})]

    assert asyncio.run(collect()) == [{"count": PRODUCTS_PER_SHOP}]


def test_a_shared_client_is_used_and_left_open(env: SandboxEnv) -> None:
    async def run() -> None:
        auth = env.auth("twitch")
        async with env.runtime.async_client(auth) as client:
            for login in ("twitchdev", env.twitch.data.users[2]["login"]):
                out = await call_operation(env.runtime, "twitch.get_users", auth,
                                           {"login": [login]}, client=client)
                assert out["data"][0]["login"] == login
            assert not client.is_closed

    asyncio.run(run())
    assert env.twitch.token_requests == 1


def test_a_link_to_another_shop_is_refused_and_gets_no_token(env: SandboxEnv) -> None:
    """*.myshopify.com admits every shop; a pagination link must stay on the called one."""
    shopify = env.shopify
    original = shopify.handle
    seen_hosts: list[str] = []

    def other_shop_links(request):  # type: ignore[no-untyped-def]
        seen_hosts.append(request.url.host)
        response = original(request)
        link = response.headers.get("link")
        if link:
            response.headers["link"] = link.replace("my-store.myshopify.com",
                                                    "other-store.myshopify.com")
        return response

    shopify.handle = other_shop_links  # type: ignore[method-assign]
    with pytest.raises(APIError, match="another host"):
        call(env, "shopify.list_products", {"limit": 50})
    assert "other-store.myshopify.com" not in seen_hosts

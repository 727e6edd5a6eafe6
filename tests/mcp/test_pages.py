"""``call_page``, the one-page call the MCP tools are built on: a page and its continuation,
and continuations that do not lead to a next page of the same listing refused. Runs without
the ``[mcp]`` extra."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import APIError, NetworkPolicyError, OperationError, PageLimits, Runtime
from connector_sdk._operations.pages import call_page


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with Runtime(environ={}, home=tmp_path, sandbox=True) as value:
        yield value


def page(runtime: Runtime, operation: str, after: str | None = None, **input: Any) -> Any:
    return asyncio.run(call_page(runtime, operation, "sbx", input, after=after,
                                 limits=PageLimits(max_items=2)))


@pytest.mark.parametrize("operation", ["twitch.get_top_games", "shopify.list_products"])
def test_pages_follow_one_another_without_overlap(runtime: Runtime, operation: str) -> None:
    first = page(runtime, operation)
    second = page(runtime, operation, first.next)
    key = "data" if operation.startswith("twitch") else "products"
    ids1 = [item["id"] for item in first.output[key]]
    ids2 = [item["id"] for item in second.output[key]]
    assert len(ids1) == 2 and len(ids2) == 2 and not set(ids1) & set(ids2)
    assert first.next and second.next and first.next != second.next


def test_an_operation_without_pages_returns_its_output_and_no_next(runtime: Runtime) -> None:
    result = page(runtime, "twitch.get_users", login=["twitchdev"])
    assert result.output["data"][0]["login"] == "twitchdev" and result.next is None
    with pytest.raises(OperationError, match="has no pages"):
        page(runtime, "twitch.get_users", "anything", login=["twitchdev"])


@pytest.mark.parametrize(("after", "refusal", "said"), [
    ("https://evil.example/admin/api/2025-10/products.json", NetworkPolicyError, "allowed_hosts"),
    ("https://other-shop.myshopify.com/admin/api/2025-10/products.json", APIError,
     "another host"),
    ("https://my-store.myshopify.com/admin/oauth/access_token", NetworkPolicyError, "path"),
])
def test_a_link_continuation_must_stay_on_the_listing_host_and_base_path(
    runtime: Runtime, after: str, refusal: type[Exception], said: str
) -> None:
    with pytest.raises(refusal, match=said):
        page(runtime, "shopify.list_products", after)
    shopify = next(s for s in runtime.sandboxes if s.name == "shopify")
    assert shopify.api_requests == 0  # refused before anything was sent


@pytest.mark.parametrize("after", ['x>; rel="next", <https://evil.example/', "a b", "", "\n"])
def test_a_continuation_with_header_syntax_is_refused(runtime: Runtime, after: str) -> None:
    with pytest.raises(OperationError, match="does not lead to a next page"):
        page(runtime, "shopify.list_products", after)

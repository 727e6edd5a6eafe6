"""Cursors handed to a model are sealed: altered, moved to another tool or authentication,
or from another server process, they are refused. Runs without the ``[mcp]`` extra."""

from __future__ import annotations

import base64
import json

import pytest

from connector_sdk import OperationError
from connector_sdk._mcp.cursors import CursorSigner

LINK = "https://my-store.myshopify.com/admin/api/2025-10/products.json?page_info=abc&limit=2"


def sealed(signer: CursorSigner) -> str:
    return signer.seal(tool="shopify_list_products", authentication="eu",
                       arguments={"status": "active"}, after=LINK)


def test_a_cursor_opens_to_its_arguments_and_continuation() -> None:
    signer = CursorSigner()
    opened = signer.open(sealed(signer), tool="shopify_list_products", authentication="eu")
    assert opened.arguments == {"status": "active"} and opened.after == LINK


def test_an_altered_continuation_is_refused() -> None:
    signer = CursorSigner()
    body, mac = sealed(signer).split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["n"] = "https://my-store.myshopify.com/admin/api/2025-10/customers.json"
    forged = base64.urlsafe_b64encode(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).rstrip(b"=")
    with pytest.raises(OperationError, match="not issued by this server"):
        signer.open(f"{forged.decode()}.{mac}", tool="shopify_list_products",
                    authentication="eu")


@pytest.mark.parametrize(("tool", "authentication"), [
    ("shopify_get_product", "eu"), ("shopify_list_products", "us")])
def test_a_cursor_is_bound_to_its_tool_and_authentication(tool: str, authentication: str) -> None:
    signer = CursorSigner()
    with pytest.raises(OperationError, match="not issued by this server"):
        signer.open(sealed(signer), tool=tool, authentication=authentication)


@pytest.mark.parametrize("cursor", ["", "no-dot", "a.b.c", "!!!.???", 42, None, "x" * 70000])
def test_garbage_is_refused(cursor: object) -> None:
    with pytest.raises(OperationError, match="call again without 'cursor'"):
        CursorSigner().open(cursor, tool="t", authentication="a")


def test_another_servers_cursor_is_refused() -> None:
    with pytest.raises(OperationError, match="or the server restarted"):
        CursorSigner().open(sealed(CursorSigner()), tool="shopify_list_products",
                            authentication="eu")

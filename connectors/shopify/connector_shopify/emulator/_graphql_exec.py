"""Executes the Admin GraphQL subset the Shopify sandbox supports, with Shopify's query cost.

Supported root fields: ``shop { ... }``, ``products(first|last, after|before, reverse) {
edges { cursor node { ... } } nodes { ... } pageInfo { ... } }`` and ``product(id:)``. Any
other field gets a GraphQL error saying the sandbox does not support it: answering an
unknown field with ``null`` would hide a manifest mistake.

Cost follows Shopify's documented rules (https://shopify.dev/docs/api/usage/rate-limits):
an object costs 1, a scalar 0, a connection 2 plus ``first``/``last`` times the cost of one
node; the actual cost counts the nodes returned. ``execute`` returns both; throttling is the
caller's job.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector_sdk.sandbox.graphql import Field, Variable

from ._data import ShopData

__all__ = ["ExecutionResult", "GraphQLError", "execute", "requested_cost"]

MAX_PAGE = 250


class GraphQLError(Exception):
    """A field-level error: the message and the field's location."""

    def __init__(self, message: str, at: Field | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = (at.line, at.column) if at else None
        self.code = code

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.location:
            body["locations"] = [{"line": self.location[0], "column": self.location[1]}]
        if self.code:
            body["extensions"] = {"code": self.code}
        return body


@dataclass
class ExecutionResult:
    data: dict[str, Any]
    actual_cost: int
    errors: list[GraphQLError] = field(default_factory=list)


def _unsupported(selection: Field, type_name: str) -> GraphQLError:
    return GraphQLError(
        f"Field '{selection.name}' on type '{type_name}' is not supported by the sandbox",
        selection, "undefinedField",
    )


def _gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def _iso(stamp: str | None) -> str | None:
    """Shopify REST stamps carry the shop's offset; GraphQL DateTime is UTC ``Z``."""
    if stamp is None:
        return None
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_SHOP_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id": lambda s: _gid("Shop", s["id"]),
    "name": lambda s: s["name"],
    "email": lambda s: s["email"],
    "contactEmail": lambda s: s["customer_email"],
    "myshopifyDomain": lambda s: s["myshopify_domain"],
    "url": lambda s: f"https://{s['domain']}",
    "currencyCode": lambda s: s["currency"],
    "ianaTimezone": lambda s: s["iana_timezone"],
    "description": lambda s: "",
    "__typename": lambda s: "Shop",
}
_PRODUCT_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id": lambda p: p["admin_graphql_api_id"],
    "legacyResourceId": lambda p: str(p["id"]),
    "title": lambda p: p["title"],
    "handle": lambda p: p["handle"],
    "vendor": lambda p: p["vendor"],
    "productType": lambda p: p["product_type"],
    "status": lambda p: p["status"].upper(),
    "createdAt": lambda p: _iso(p["created_at"]),
    "updatedAt": lambda p: _iso(p["updated_at"]),
    "publishedAt": lambda p: _iso(p["published_at"]),
    "tags": lambda p: [t.strip() for t in p["tags"].split(",") if t.strip()],
    "descriptionHtml": lambda p: p["body_html"],
    "totalInventory": lambda p: sum(v["inventory_quantity"] for v in p["variants"]),
    "onlineStoreUrl": lambda p: None,
    "__typename": lambda p: "Product",
}

_PAGE_INFO_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    name: operator.itemgetter(name)
    for name in ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename")
}


def _scalars(selection: Field, source: dict[str, Any],
             fields: dict[str, Callable[[dict[str, Any]], Any]], type_name: str) -> dict[str, Any]:
    if not selection.selections:
        raise GraphQLError(
            f"Field must have selections (field '{selection.name}' returns {type_name} but has "
            "no selections)", selection, "selectionMismatch")
    out: dict[str, Any] = {}
    for child in selection.selections:
        if child.name not in fields:
            raise _unsupported(child, type_name)
        if child.selections:
            raise GraphQLError(f"Selections can't be made on scalars (field '{child.name}')",
                               child, "selectionMismatch")
        out[child.key] = fields[child.name](source)
    return out


def encode_cursor(product_id: int) -> str:
    payload = json.dumps({"last_id": product_id, "last_value": str(product_id)},
                         separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any, at: Field) -> int:
    try:
        text = str(cursor)
        payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        value = payload["last_id"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise GraphQLError("Invalid cursor for current pagination sort.", at) from None
    if not isinstance(value, int):
        raise GraphQLError("Invalid cursor for current pagination sort.", at)
    return value


def _resolve(arguments: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    def value(raw: Any) -> Any:
        if isinstance(raw, Variable):
            return variables.get(raw.name)
        if isinstance(raw, list):
            return [value(v) for v in raw]
        if isinstance(raw, dict):
            return {k: value(v) for k, v in raw.items()}
        return raw
    return {name: value(raw) for name, raw in arguments.items()}


def _page_size(selection: Field, args: dict[str, Any]) -> int:
    first, last = args.get("first"), args.get("last")
    if (first is None) == (last is None):
        raise GraphQLError("you must provide one of first or last", selection)
    size = first if first is not None else last
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise GraphQLError("first and last must be non-negative integers", selection)
    if size > MAX_PAGE:
        raise GraphQLError(f"The page size requested ({size}) exceeds the maximum of {MAX_PAGE}",
                           selection)
    return size


_CONNECTION_ARGS = {"first", "last", "after", "before", "reverse"}


def _products(selection: Field, shop: ShopData, args: dict[str, Any]) -> tuple[Any, int]:
    unknown = sorted(set(args) - _CONNECTION_ARGS)
    if unknown:
        raise GraphQLError(
            f"Argument '{unknown[0]}' on field 'products' is not supported by the sandbox",
            selection)
    size = _page_size(selection, args)
    items = list(reversed(shop.products)) if args.get("reverse") else shop.products
    position = {p["id"]: i for i, p in enumerate(items)}
    start, end = 0, len(items)
    if args.get("after") is not None:
        start = position.get(_decode_cursor(args["after"], selection), -1) + 1
    if args.get("before") is not None:
        end = position.get(_decode_cursor(args["before"], selection), len(items))
    if args.get("first") is not None:
        end = min(end, start + size)
    else:
        start = max(start, end - size)
    page = items[start:end]
    out: dict[str, Any] = {}
    for child in selection.selections or []:
        if child.name == "edges":
            node = next((c for c in child.selections or [] if c.name == "node"), None)
            edges = []
            for product in page:
                edge: dict[str, Any] = {}
                for part in child.selections or []:
                    if part.name == "cursor":
                        edge[part.key] = encode_cursor(product["id"])
                    elif part.name == "node" and node is not None:
                        edge[part.key] = _scalars(part, product, _PRODUCT_FIELDS, "Product")
                    else:
                        raise _unsupported(part, "ProductEdge")
                edges.append(edge)
            out[child.key] = edges
        elif child.name == "nodes":
            out[child.key] = [_scalars(child, p, _PRODUCT_FIELDS, "Product") for p in page]
        elif child.name == "pageInfo":
            info = {
                "hasNextPage": end < len(items),
                "hasPreviousPage": start > 0,
                "startCursor": encode_cursor(page[0]["id"]) if page else None,
                "endCursor": encode_cursor(page[-1]["id"]) if page else None,
                "__typename": "PageInfo",
            }
            out[child.key] = _scalars(child, info, _PAGE_INFO_FIELDS, "PageInfo")
        else:
            raise _unsupported(child, "ProductConnection")
    if not selection.selections:
        raise GraphQLError("Field must have selections (field 'products' returns "
                           "ProductConnection but has no selections)", selection)
    return out, 2 + len(page)


def _product(selection: Field, shop: ShopData, args: dict[str, Any]) -> tuple[Any, int]:
    wanted = args.get("id")
    if not isinstance(wanted, str):
        raise GraphQLError("Field 'product' is missing required arguments: id", selection)
    found = next((p for p in shop.products if p["admin_graphql_api_id"] == wanted), None)
    if found is None:
        return None, 1
    return _scalars(selection, found, _PRODUCT_FIELDS, "Product"), 1


def requested_cost(selections: list[Field], variables: dict[str, Any]) -> int:
    """Shopify's requested query cost: objects 1, scalars 0, connections 2 + size x node."""
    total = 0
    for selection in selections:
        if selection.name == "products":
            args = _resolve(selection.arguments, variables)
            size = args.get("first") if args.get("first") is not None else args.get("last")
            total += 2 + (size if isinstance(size, int) and size > 0 else 0)
        elif selection.name in ("shop", "product"):
            total += 1
    return total


def execute(
    selections: list[Field], variables: dict[str, Any], shop: ShopData
) -> ExecutionResult:
    """Run the root ``selections`` against ``shop``; errors stop the whole query."""
    data: dict[str, Any] = {}
    cost = 0
    roots = {"shop", "products", "product"}
    for selection in selections:
        if selection.name not in roots:
            raise GraphQLError(
                f"Field '{selection.name}' on type 'QueryRoot' is not supported by the sandbox",
                selection, "undefinedField")
    for selection in selections:
        args = _resolve(selection.arguments, variables)
        if selection.name == "shop":
            data[selection.key] = _scalars(selection, shop.shop, _SHOP_FIELDS, "Shop")
            cost += 1
        elif selection.name == "products":
            data[selection.key], spent = _products(selection, shop, args)
            cost += spent
        else:
            data[selection.key], spent = _product(selection, shop, args)
            cost += spent
    return ExecutionResult(data=data, actual_cost=cost)

"""An emulator of a Shopify store's client-credentials token endpoint and Admin API.

It answers for any ``{shop}.myshopify.com`` host as Shopify documents
(https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant,
https://shopify.dev/docs/api/usage/rate-limits):

* ``POST /admin/oauth/access_token`` (form or JSON body): ``{"access_token","scope",
  "expires_in"}`` with no ``token_type``; bad credentials 401
  ``{"errors":"[API] Invalid API key or access token ..."}``; a shop the app may not use
  (``foreign_shops``) 400 ``text/plain`` ``Oauth error shop_not_permitted: ...``; a shop that
  does not exist 404.
* Admin REST under ``/admin/api/{YYYY-MM}/``: ``shop.json``, ``products.json`` (``limit``
  default 50, at most 250; ``Link`` header with ``page_info`` cursors), ``products/{id}.json``,
  ``products/count.json``; a leaky bucket per app and shop with
  ``X-Shopify-Shop-Api-Call-Limit`` and 429 + ``Retry-After: 2.0`` when full.
* ``graphql.json``: the subset in ``_graphql_exec`` with ``extensions.cost`` and a cost
  bucket; ``THROTTLED`` is answered with HTTP 200, as Shopify usually does.
* The authorization code grant (``_authorization``): ``/admin/oauth/authorize`` with a
  consent page, the code exchange and expiring offline tokens with rotating refresh tokens
  at the same token endpoint.
* ``X-Shopify-Access-Token`` on every API call; a missing, unknown, expired or other-shop token
  gets 401 with the same ``errors`` string.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from connector_sdk.sandbox import (
    HEX,
    Clock,
    TokenRecord,
    json_response,
    read_form,
    read_json_object,
    text_response,
)
from connector_sdk.sandbox.graphql import GraphQLSyntaxError, GraphQLUnsupported, parse

from ._authorization import AuthorizationCode
from ._data import PRODUCTS_PER_SHOP, ShopData, shop_data
from ._graphql_exec import GraphQLError, execute, requested_cost

__all__ = [
    "SHOPIFY_API_VERSION",
    "SHOPIFY_CLIENT_ID",
    "SHOPIFY_CLIENT_SECRET",
    "SHOPIFY_SHOP",
    "ShopifySandbox",
]

# The documented sandbox app: 32 hex digits and a ``shpss_`` prefixed secret, the shape of Dev
# Dashboard app credentials, installed on the shop ``my-store``. Not secrets (printed by
# ``connector-sdk sandbox``); nothing real accepts them.
SHOPIFY_CLIENT_ID = "5a4db0c5e1f2a3b4c5d6e7f8091a2b3c"
SHOPIFY_CLIENT_SECRET = "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"
SHOPIFY_SHOP = "my-store"
SHOPIFY_API_VERSION = "2025-10"

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
SHOP_NOT_PERMITTED = (
    "Oauth error shop_not_permitted: Client credentials cannot be performed on this shop."
)
THROTTLED_REST = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted "
    "service."
)
_HOST = re.compile(r"([a-z0-9][a-z0-9-]*)\.myshopify\.com")
_API_PATH = re.compile(r"/admin/api/([^/]+)/(.+)")
_VERSION = re.compile(r"\d{4}-(0[1-9]|1[0-2])|unstable")
_PRODUCT_PATH = re.compile(r"products/(\d+)\.json")
_NOT_FOUND = {"errors": "Not Found"}


@dataclass
class _Leaky:
    level: float
    updated: float


def _bad_request(field: str, message: str) -> httpx.Response:
    return json_response(400, {"errors": {field: message}})


class ShopifySandbox(AuthorizationCode):
    """Shopify stores ``{shop}.myshopify.com`` for each handle in ``shops``, thread-safe.

    ``clients`` maps client id to secret (default: the documented sandbox app
    ``SHOPIFY_CLIENT_ID``/``SHOPIFY_CLIENT_SECRET``), installed on every shop in ``shops``;
    ``parameters()`` gives the first client on the first shop as authentication parameters.
    ``foreign_shops`` exist but refuse client credentials (``shop_not_permitted``).
    ``token_lifetime`` is the tokens' ``expires_in``; ``bucket_size``/``leak_rate`` the REST
    leaky bucket; ``graphql_bucket_size``/``graphql_restore_rate`` the GraphQL cost bucket.
    ``scopes`` are the granted scopes, returned comma-separated. ``data[shop]`` holds each
    shop's seeded data. ``redirect_uris`` are the app's allowed redirection URLs for the
    authorization code grant (any loopback URL is allowed too).
    """

    name = "shopify"

    def __init__(
        self,
        *,
        seed: int = 0,
        shops: Iterable[str] = (SHOPIFY_SHOP,),
        token_lifetime: int = 86399,
        bucket_size: int = 40,
        leak_rate: float = 2.0,
        graphql_bucket_size: float = 1000.0,
        graphql_restore_rate: float = 50.0,
        clients: Mapping[str, str] | None = None,
        foreign_shops: Iterable[str] = ("other-store",),
        scopes: Iterable[str] = ("read_products", "read_inventory"),
        products_per_shop: int = PRODUCTS_PER_SHOP,
        redirect_uris: Iterable[str] = (),
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self._init_authorization(redirect_uris=tuple(redirect_uris))
        self.seed = seed
        self.shops = tuple(shops)
        self.foreign_shops = tuple(s for s in foreign_shops if s not in self.shops)
        self.token_lifetime = token_lifetime
        self.bucket_size = bucket_size
        self.leak_rate = leak_rate
        self.graphql_bucket_size = float(graphql_bucket_size)
        self.graphql_restore_rate = float(graphql_restore_rate)
        self.scopes = tuple(scopes)
        self.clients: dict[str, str] = dict(
            clients if clients is not None else {SHOPIFY_CLIENT_ID: SHOPIFY_CLIENT_SECRET}
        )
        self.data: dict[str, ShopData] = {
            shop: shop_data(shop, seed, products_per_shop)
            for shop in (*self.shops, *self.foreign_shops)
        }
        self._rest: dict[tuple[str, str], _Leaky] = {}
        self._cost: dict[tuple[str, str], _Leaky] = {}

    @property
    def hosts(self) -> tuple[str, ...]:
        """The hosts of the shops that exist (any other ``*.myshopify.com`` answers 404)."""
        return tuple(f"{shop}.myshopify.com" for shop in (*self.shops, *self.foreign_shops))

    def serves(self, host: str) -> bool:
        return _HOST.fullmatch(host.lower()) is not None

    def parameters(self) -> dict[str, str]:
        """``shopify_url``, ``client_id``, ``client_secret`` and ``api_version`` for the first
        client on the first shop."""
        client_id, secret = next(iter(self.clients.items()), ("", ""))
        shop = self.shops[0] if self.shops else SHOPIFY_SHOP
        return {"shopify_url": f"{shop}.myshopify.com", "client_id": client_id,
                "client_secret": secret, "api_version": SHOPIFY_API_VERSION}

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (its body already read); safe to call from many threads."""
        match = _HOST.fullmatch(request.url.host.lower())
        shop = match.group(1) if match else ""
        path = request.url.path
        with self.lock:
            is_token = path == "/admin/oauth/access_token"
            self.count_request(request, token=is_token, api=path.startswith("/admin/api/"))
            if shop not in self.data:
                return json_response(404, _NOT_FOUND)
            if is_token:
                if request.method != "POST":
                    return json_response(404, _NOT_FOUND)
                return self._token(request, shop)
            if path == "/admin/oauth/authorize" and request.method == "GET":
                return self._authorize(request, shop)
            if path == "/admin/oauth/consent":
                return self._consent_answer(request, shop)
            api = _API_PATH.fullmatch(path)
            if api is None or _VERSION.fullmatch(api.group(1)) is None:
                return json_response(404, _NOT_FOUND)
            record = self._authenticate(request, shop)
            if record is None:
                return json_response(401, {"errors": INVALID_TOKEN})
            resource = api.group(2)
            if resource == "graphql.json":
                return self._graphql(request, shop, record.client_id)
            return self._rest_call(request, shop, record.client_id, api.group(1), resource)

    # token endpoint -----------------------------------------------------------------------

    def _token(self, request: httpx.Request, shop: str) -> httpx.Response:
        params: Mapping[str, Any] = read_form(request) or read_json_object(request) or {}
        client_id = str(params.get("client_id") or "")
        secret = str(params.get("client_secret") or "")
        if client_id not in self.clients or secret != self.clients[client_id]:
            return json_response(401, {"errors": INVALID_TOKEN})
        grant_type = params.get("grant_type")
        if grant_type == "refresh_token":
            return self._refresh_grant(params, shop, client_id)
        if grant_type in (None, "", "authorization_code") and params.get("code"):
            return self._code_grant(params, shop, client_id)
        if grant_type != "client_credentials":
            # Shopify's message for this case is not documented; RFC 6749's code is used.
            return json_response(400, {"error": "unsupported_grant_type", "error_description":
                                       "the sandbox supports client_credentials, a code "
                                       "exchange and refresh_token"})
        if shop in self.foreign_shops:
            return text_response(400, SHOP_NOT_PERMITTED)
        record = TokenRecord(client_id=client_id, shop=shop,
                             expires_at=self.clock() + self.token_lifetime)
        token = self.mint_token(record, length=32, alphabet=HEX)
        body = {"access_token": token, "scope": ",".join(self.scopes),
                "expires_in": self.token_lifetime}
        return json_response(200, body, headers={"Cache-Control": "no-store"})

    def _authenticate(self, request: httpx.Request, shop: str) -> TokenRecord | None:
        record = self.find_token(request.headers.get("x-shopify-access-token", ""))
        if record is None or record.shop != shop or not record.valid_at(self.clock()):
            return None
        return record

    # REST ---------------------------------------------------------------------------------

    def _rest_call(
        self, request: httpx.Request, shop: str, client_id: str, version: str, resource: str
    ) -> httpx.Response:
        now = self.clock()
        bucket = self._rest.setdefault((shop, client_id), _Leaky(0.0, now))
        bucket.level = max(0.0, bucket.level - (now - bucket.updated) * self.leak_rate)
        bucket.updated = now
        if bucket.level + 1 > self.bucket_size:
            headers = {"Retry-After": "2.0",
                       "X-Shopify-Shop-Api-Call-Limit": f"{self.bucket_size}/{self.bucket_size}"}
            return json_response(429, {"errors": THROTTLED_REST}, headers=headers)
        bucket.level += 1
        headers = {"X-Shopify-Shop-Api-Call-Limit":
                   f"{min(self.bucket_size, math.ceil(bucket.level))}/{self.bucket_size}"}
        response = self._rest_resource(request, shop, version, resource)
        response.headers.update(headers)
        return response

    def _rest_resource(
        self, request: httpx.Request, shop: str, version: str, resource: str
    ) -> httpx.Response:
        if request.method != "GET":
            return json_response(404, _NOT_FOUND)  # the sandbox's REST is read-only
        data = self.data[shop]
        if resource == "shop.json":
            return json_response(200, {"shop": data.shop})
        if resource == "products/count.json":
            status = request.url.params.get("status")
            count = sum(1 for p in data.products if status in (None, "", p["status"]))
            return json_response(200, {"count": count})
        if resource == "products.json":
            return self._products(request, shop, version)
        single = _PRODUCT_PATH.fullmatch(resource)
        if single:
            found = next((p for p in data.products if p["id"] == int(single.group(1))), None)
            if found is None:
                return json_response(404, _NOT_FOUND)
            return json_response(200, {"product": _project(found, request.url.params)})
        return json_response(404, _NOT_FOUND)

    def _products(self, request: httpx.Request, shop: str, version: str) -> httpx.Response:
        query = request.url.params
        raw_limit = query.get("limit", "50")
        try:
            limit = int(raw_limit)
        except ValueError:
            return _bad_request("limit", "Invalid value: must be an integer")
        if limit < 1:
            return _bad_request("limit", "Invalid value: must be at least 1")
        limit = min(limit, 250)  # Shopify caps the page at 250 rather than failing
        page_info = query.get("page_info")
        if page_info:
            # With page_info, filters come from the cursor; Shopify rejects others, the
            # sandbox ignores them.
            try:
                cursor = _decode_page_info(page_info)
            except ValueError:
                return _bad_request("page_info", "Invalid value.")
            direction, last_id = cursor["direction"], cursor["last_id"]
            status, since_id = cursor.get("status"), cursor.get("since_id", 0)
        else:
            direction, last_id = "next", 0
            status, since_id = query.get("status"), int(query.get("since_id") or 0)
        ids = {int(v) for v in query.get("ids", "").split(",") if v.strip().isdigit()}
        items = [
            p for p in self.data[shop].products
            if p["id"] > since_id and (not status or p["status"] == status)
            and (not ids or p["id"] in ids)
        ]
        if direction == "next":
            after = [p for p in items if p["id"] > last_id]
            page = after[:limit]
            has_next, has_prev = len(after) > limit, bool(page_info) and len(after) < len(items)
        else:
            before = [p for p in items if p["id"] < last_id]
            page = before[-limit:]
            has_next, has_prev = True, len(before) > limit
        links = []
        base = f"https://{shop}.myshopify.com/admin/api/{version}/products.json"
        keep = {"status": status, "since_id": since_id}
        extra = {k: query[k] for k in ("fields",) if k in query}
        if has_prev and page:
            token = _encode_page_info("prev", page[0]["id"], keep)
            links.append(f'<{base}?{urlencode({"limit": limit, **extra, "page_info": token})}>; '
                         'rel="previous"')
        if has_next and page:
            token = _encode_page_info("next", page[-1]["id"], keep)
            links.append(f'<{base}?{urlencode({"limit": limit, **extra, "page_info": token})}>; '
                         'rel="next"')
        body = {"products": [_project(p, query) for p in page]}
        return json_response(200, body, headers={"Link": ", ".join(links)} if links else None)

    # GraphQL ------------------------------------------------------------------------------

    def _graphql(self, request: httpx.Request, shop: str, client_id: str) -> httpx.Response:
        if request.method != "POST":
            return json_response(404, _NOT_FOUND)
        body = read_json_object(request)
        query = body.get("query") if body else None
        variables = body.get("variables") if body else None
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return _bad_request("query", "Required parameter missing or invalid")
        try:
            selections, defaults = parse(query)
        except GraphQLSyntaxError as error:
            return json_response(200, {"errors": [{"message": error.message, "locations": [
                {"line": error.line, "column": error.column}]}]})
        except GraphQLUnsupported as error:
            return json_response(200, {"errors": [
                {"message": f"{error} not supported by the sandbox"}]})
        values = {**defaults, **(variables or {})}
        requested = requested_cost(selections, values)
        now = self.clock()
        bucket = self._cost.setdefault((shop, client_id), _Leaky(self.graphql_bucket_size, now))
        bucket.level = min(self.graphql_bucket_size,
                           bucket.level + (now - bucket.updated) * self.graphql_restore_rate)
        bucket.updated = now

        def cost(actual: int | None) -> dict[str, Any]:
            return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                             "throttleStatus": {
                                 "maximumAvailable": self.graphql_bucket_size,
                                 "currentlyAvailable": math.floor(bucket.level + 1e-3),
                                 "restoreRate": self.graphql_restore_rate}}}

        if requested > self.graphql_bucket_size:
            return json_response(200, {"errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost "
                f"limit ({self.graphql_bucket_size:g}).",
                "extensions": {"code": "MAX_COST_EXCEEDED"}}], "extensions": cost(None)})
        if requested > bucket.level + 1e-3:  # tolerate float error in a client's computed wait
            return json_response(200, {"errors": [{
                "message": "Throttled", "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": cost(None)})
        try:
            result = execute(selections, values, self.data[shop])
        except GraphQLError as error:
            return json_response(200, {"errors": [error.as_json()]})
        bucket.level = max(0.0, bucket.level - result.actual_cost)
        return json_response(200, {"data": result.data, "extensions": cost(result.actual_cost)})


def _project(product: dict[str, Any], query: httpx.QueryParams) -> dict[str, Any]:
    fields = [f.strip() for f in query.get("fields", "").split(",") if f.strip()]
    return {k: v for k, v in product.items() if k in fields} if fields else product


def _encode_page_info(direction: str, last_id: int, keep: Mapping[str, Any]) -> str:
    payload = {"direction": direction, "last_id": last_id, "last_value": str(last_id),
               **{k: v for k, v in keep.items() if v}}
    text = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _decode_page_info(token: str) -> dict[str, Any]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as error:
        raise ValueError("invalid page_info") from error
    if (not isinstance(payload, dict) or payload.get("direction") not in ("next", "prev")
            or not isinstance(payload.get("last_id"), int)):
        raise ValueError("invalid page_info")
    return payload

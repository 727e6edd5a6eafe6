"""A small, real OAuth 2.0 provider on 127.0.0.1 for the authorization-code tests.

``Provider`` is pytest-httpserver's threaded HTTP server: ``GET /authorize`` approves at
once (302 to ``redirect_uri`` with ``code`` and ``state``; with ``signed`` the Shopify-style
``shop``, ``timestamp`` and ``hmac`` too), or answers ``error=access_denied`` when ``deny``
is set; ``POST /token`` exchanges single-use codes (client credentials, redirect URI and the
PKCE S256 verifier checked, RFC 7636 §4.6) and rotating refresh tokens (a spent one is
``invalid_grant``), counting refresh requests; ``GET /api/me`` answers 200 to a live access
token, 401 otherwise. ``plugin(port)`` registers the ``acmeauth`` (PKCE, space-separated
scopes) and ``shopauth`` (comma-separated, signed callback, ``shop`` bound) services.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connector_sdk import hookimpl

CLIENT_ID = "client-1"

MANIFESTS = ["""\
manifest_version: 1
service:
  id: acmeauth
  title: Acme with user consent
  version: 1.0.0
  description: A provider on 127.0.0.1 with PKCE and rotating refresh tokens.
parameters:
  type: object
  required: [client_id, client_secret]
  properties:
    client_id: {{type: string}}
    client_secret: {{type: string, secret: true}}
auth:
  grant: [authorization_code, client_credentials]
  token_url: http://127.0.0.1:{port}/token
  client_authentication: client_secret_basic
  client_id: '{{{{ client_id }}}}'
  client_secret: '{{{{ client_secret }}}}'
  headers:
    Authorization: 'Bearer {{{{ access_token }}}}'
  authorization_code:
    authorization_url: http://127.0.0.1:{port}/authorize
    scopes: [user:read, chat:edit]
    pkce: S256
    refresh_token_rotation: true
allowed_hosts: ['127.0.0.1']
base_url: http://127.0.0.1:{port}
""", """\
manifest_version: 1
service:
  id: shopauth
  title: A shop with a signed callback
  version: 1.0.0
  description: A provider on 127.0.0.1 whose callback is signed as Shopify's is.
parameters:
  type: object
  required: [shop, client_id, client_secret]
  properties:
    shop: {{type: string, pattern: '^[a-z0-9][a-z0-9-]*\\.myshopify\\.com$'}}
    client_id: {{type: string}}
    client_secret: {{type: string, secret: true}}
auth:
  grant: authorization_code
  token_url: http://127.0.0.1:{port}/token
  client_authentication: client_secret_post
  client_id: '{{{{ client_id }}}}'
  client_secret: '{{{{ client_secret }}}}'
  scope_separator: ','
  headers:
    X-Shopify-Access-Token: '{{{{ access_token }}}}'
  authorization_code:
    authorization_url: http://127.0.0.1:{port}/authorize
    scopes: [read_products, write_orders]
    authorization_parameters: {{shop: '{{{{ shop }}}}', 'grant_options[]': per-user}}
    token_request_fields: {{expiring: '1'}}
    callback_parameters: {{shop: shop}}
    callback_signature:
      style: sorted_query_hmac_sha256
      parameter: hmac
      secret: '{{{{ client_secret }}}}'
      max_age: 90
allowed_hosts: ['127.0.0.1']
base_url: http://127.0.0.1:{port}
"""]


class ProviderPlugin:
    def __init__(self, port: int) -> None:
        self.texts = [m.format(port=port) for m in MANIFESTS]

    @hookimpl
    def register_services(self, register: Callable[[Any], None]) -> None:
        for text in self.texts:
            register(text)


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()


class Provider:
    """See the module docstring. ``secret``: the client secret it accepts."""

    def __init__(self, secret: str, *, expires_in: float = 3600, delay: float = 0.0) -> None:
        self.secret = secret
        self.expires_in = expires_in
        self.delay = delay
        self.deny = False
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, bool] = {}  # token -> still valid
        self.access: dict[str, float] = {}         # token -> expires at
        self.refreshes = 0
        self.exchanges = 0
        self.authorize_queries: list[dict[str, str]] = []
        self.token_forms: list[dict[str, str]] = []
        self._lock = threading.Lock()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/authorize", method="GET").respond_with_handler(
            self._authorize)
        self.server.expect_request("/token", method="POST").respond_with_handler(self._token)
        self.server.expect_request("/api/me", method="GET").respond_with_handler(self._api)
        self.server.start()

    @property
    def port(self) -> int:
        return int(self.server.port)

    def close(self) -> None:
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    # -- what tests use ----------------------------------------------------------------------

    def approve(self, authorization_url: str) -> str:
        """The callback URL the provider redirects the user's browser to."""
        answer = httpx.get(authorization_url, follow_redirects=False)
        assert answer.status_code == 302, answer.status_code
        return answer.headers["location"]

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self.access:
                self.access[token] = 0.0

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            for token in self.refresh_tokens:
                self.refresh_tokens[token] = False

    # -- endpoints ---------------------------------------------------------------------------

    def _authorize(self, request: Request) -> Response:
        query = dict(request.args)
        self.authorize_queries.append(query)
        target = query["redirect_uri"]
        if self.deny:
            back = {"error": "access_denied", "state": query["state"]}
        else:
            code = secrets.token_urlsafe(16)
            with self._lock:
                self.codes[code] = query
            back = {"code": code, "state": query["state"]}
            if "shop" in query:  # signed as Shopify signs it (sorted k=v, HMAC-SHA256 hex)
                back.update(shop=query["shop"], timestamp=str(int(time.time())))
                message = "&".join(f"{k}={v}" for k, v in sorted(back.items()))
                back["hmac"] = hmac.new(self.secret.encode(), message.encode(),
                                        hashlib.sha256).hexdigest()
        separator = "&" if urlsplit(target).query else "?"
        return Response(status=302, headers={"Location": target + separator + urlencode(back)})

    def _client_ok(self, request: Request, form: dict[str, str]) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            pair = base64.b64decode(header[6:]).decode()
            return pair == f"{CLIENT_ID}:{self.secret}"
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == self.secret

    def _error(self, code: str) -> Response:
        return Response(json.dumps({"error": code}), status=400,
                        content_type="application/json")

    def _issue(self, scopes: list[str]) -> Response:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        with self._lock:
            self.access[access] = time.time() + self.expires_in
            self.refresh_tokens[refresh] = True
        return Response(json.dumps({
            "access_token": access, "refresh_token": refresh, "token_type": "bearer",
            "expires_in": self.expires_in, "scope": scopes}), content_type="application/json")

    def _token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.get_data(as_text=True)))
        self.token_forms.append(form)
        if not self._client_ok(request, form):
            return self._error("invalid_client")
        if form.get("grant_type") == "authorization_code":
            self.exchanges += 1
            with self._lock:
                begun = self.codes.pop(form.get("code", ""), None)  # single use
            if begun is None or begun["redirect_uri"] != form.get("redirect_uri"):
                return self._error("invalid_grant")
            expected = begun.get("code_challenge")
            if expected is not None and challenge(form.get("code_verifier", "")) != expected:
                return self._error("invalid_grant")
            return self._issue(begun.get("scope", "").replace(",", " ").split())
        if form.get("grant_type") == "refresh_token":
            with self._lock:
                self.refreshes += 1
                valid = self.refresh_tokens.get(form.get("refresh_token", ""), False)
                if valid:
                    self.refresh_tokens[form["refresh_token"]] = False  # rotated: spent
            time.sleep(self.delay)
            return self._issue(["user:read"]) if valid else self._error("invalid_grant")
        return self._error("unsupported_grant_type")

    def _api(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") or request.headers.get(
            "X-Shopify-Access-Token", "")
        with self._lock:
            live = self.access.get(token, 0.0) > time.time()
        return Response('{"id": "u1"}' if live else '{"message": "invalid token"}',
                        status=200 if live else 401, content_type="application/json")

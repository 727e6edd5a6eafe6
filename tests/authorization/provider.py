"""The authorization servers of the authorization-code tests, on one loopback SandboxServer.

``Provider`` serves ``connector_sdk.sandbox.OAuthSandbox`` on host 127.0.0.1 (the
``acmeauth`` service: PKCE S256, client_secret_basic, space-separated scopes, rotating
refresh tokens, ``/api/me``) and the Shopify emulator for ``some-shop.myshopify.com`` (the
``shopauth`` service: comma-separated scopes, a signed callback, ``shop`` bound), so these
tests exercise the same server side as every other consent test. All the provider adds is
test instrumentation in front of them: the form of every token request, in order
(``token_forms``, ``exchanges``, ``refreshes``), and ``refresh_delay`` to hold refresh answers
so concurrent refreshes overlap. ``plugin(port)`` registers both services.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connector_shopify.emulator import ShopifySandbox

from connector_sdk import hookimpl
from connector_sdk.sandbox import OAuthSandbox, Sandbox, SandboxServer

CLIENT_ID = "client-1"
SHOP_HANDLE = "some-shop"
_TOKEN_PATHS = ("/token", "/admin/oauth/access_token")

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
  description: The Shopify emulator's authorization server; its callback is signed.
parameters:
  type: object
  required: [shop, client_id, client_secret]
  properties:
    shop: {{type: string, pattern: '^[a-z0-9][a-z0-9-]*\\.myshopify\\.com$'}}
    client_id: {{type: string}}
    client_secret: {{type: string, secret: true}}
auth:
  grant: authorization_code
  token_url: https://{{{{ shop }}}}/admin/oauth/access_token
  client_authentication: client_secret_post
  client_id: '{{{{ client_id }}}}'
  client_secret: '{{{{ client_secret }}}}'
  scope_separator: ','
  default_token_type: bearer
  headers:
    X-Shopify-Access-Token: '{{{{ access_token }}}}'
  authorization_code:
    authorization_url: https://{{{{ shop }}}}/admin/oauth/authorize
    scopes: [read_products, write_orders]
    authorization_parameters: {{shop: '{{{{ shop }}}}', 'grant_options[]': per-user}}
    token_request_fields: {{expiring: '1'}}
    callback_parameters: {{shop: shop}}
    callback_signature:
      style: sorted_query_hmac_sha256
      parameter: hmac
      secret: '{{{{ client_secret }}}}'
      max_age: 90
allowed_hosts: ['*.myshopify.com']
base_url: https://{{{{ shop }}}}
"""]


class ProviderPlugin:
    def __init__(self, port: int) -> None:
        self.texts = [m.format(port=port) for m in MANIFESTS]

    @hookimpl
    def register_services(self, register: Callable[[Any], None]) -> None:
        for text in self.texts:
            register(text)


class _Recorded:
    """``sandbox`` behind the provider's instrumentation: token requests are recorded, and
    refresh requests held ``refresh_delay`` seconds, before the sandbox answers them."""

    def __init__(self, sandbox: Sandbox, provider: Provider) -> None:
        self.sandbox = sandbox
        self.provider = provider
        self.name = sandbox.name

    def serves(self, host: str) -> bool:
        return self.sandbox.serves(host)

    def handle(self, request: Any) -> Any:
        if request.method == "POST" and request.url.path in _TOKEN_PATHS:
            form = dict(parse_qsl(request.content.decode()))
            with self.provider.lock:
                self.provider.token_forms.append(form)
            if form.get("grant_type") == "refresh_token":
                time.sleep(self.provider.refresh_delay)
        return self.sandbox.handle(request)


class Provider:
    """See the module docstring. ``secret``: the client secret both servers accept."""

    def __init__(self, secret: str) -> None:
        self.oauth = OAuthSandbox(host="127.0.0.1", clients={CLIENT_ID: secret})
        self.shopify = ShopifySandbox(shops=(SHOP_HANDLE,), clients={CLIENT_ID: secret})
        self.token_forms: list[dict[str, str]] = []
        self.refresh_delay = 0.0
        self.lock = threading.Lock()
        self.server = SandboxServer(_Recorded(self.oauth, self), _Recorded(self.shopify, self))
        self.server.start()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.stop()

    def approve(self, authorization_url: str, *, deny: bool = False) -> str:
        """The callback URL the consent page redirects the user's browser to."""
        host = urlsplit(authorization_url).hostname or ""
        sandbox = self.oauth if self.oauth.serves(host) else self.shopify
        return sandbox.approve(authorization_url, deny=deny)

    @property
    def exchanges(self) -> int:
        """Code exchanges received (refused ones included)."""
        with self.lock:
            return sum(1 for form in self.token_forms if "code" in form)

    @property
    def refreshes(self) -> int:
        """Refresh requests received (refused ones included)."""
        with self.lock:
            return sum(1 for f in self.token_forms if f.get("grant_type") == "refresh_token")

    def expire_access_tokens(self) -> None:
        self.oauth.expire_all_tokens()

    def revoke_refresh_tokens(self) -> None:
        """The user revoked the application: every token of every code is revoked."""
        with self.oauth.lock:
            self.oauth.consent.revoke_all()

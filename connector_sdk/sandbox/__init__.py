"""The framework connector authors build API emulators with, in-process or on loopback.

An emulator stands in for a service's token endpoint and API: it answers like the real service
(its success and error bodies, token lifetimes, 401 on a bad or expired token, pagination and
rate limits) over seeded, deterministic data, so the SDK's token layer, retries and operations
run without the network and without real credentials. Connectors ship their own and register
them through the ``register_emulators`` hook; ``Runtime(sandbox=True)``, ``--sandbox`` and
``connector-sdk sandbox SERVICE`` then find them by service id (docs/plugin-hooks.md).

Writing one: subclass ``SandboxBase``, set ``name`` and implement ``hosts`` (the real hosts it
stands in for), ``serves(host)``, ``handle(request) -> response`` (under ``self.lock``, with
``mint_token``, ``find_token`` and ``count_request``) and ``parameters()`` (the throwaway
credentials it accepts). docs/plugin-hooks.md ("Writing an emulator") walks through a complete
one and its registration.

In-process (no socket; one object is a sync and an async transport)::

    client = httpx.Client(transport=SandboxTransport(AcmeSandbox()))

On loopback, keeping the real URLs (manifests are never edited)::

    with SandboxServer(AcmeSandbox()) as server:
        sync_transport, async_transport = routing_transports(server)

Emulators of an authorization-code grant share one consent machinery (``ConsentFlows``: the
consent page, single-use codes, rotating refresh tokens, ``redirect_allowed``); tests answer
the page over HTTP with ``emulator.approve(authorization_url)``, and a browser opens
``server.browser_url(authorization_url)``. ``OAuthSandbox`` is a by-the-book RFC 6749 server
with PKCE (``verify_pkce``) for what no shipped provider exercises. A callback signed like Shopify's
``hmac`` is signed with ``sorted_query_signature``, the very function the SDK checks with.

``connector_sdk.sandbox.graphql`` parses the GraphQL queries an emulator of a GraphQL API
answers. Nothing here names a provider: each connector ships its own emulator (the shipped
connectors in their ``emulator`` subpackages).
"""

from .._auth.authorization import sorted_query_signature
from ._approve import ConsentPageError, approve
from ._base import (
    HEX,
    LOWER_ALNUM,
    Clock,
    Emulator,
    EmulatorFactory,
    Sandbox,
    SandboxBase,
    TokenRecord,
    json_response,
    read_form,
    read_json_object,
    text_response,
)
from ._consent import ConsentFlows, Grant, error_page, redirect_allowed, redirect_with
from ._oauth import OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAuthSandbox
from ._pkce import PKCE_METHODS, verify_pkce
from ._routing import LoopbackRoutingTransport, routing_transports
from ._server import SandboxServer, require_loopback, serve_forever_cli
from ._transport import SandboxTransport

__all__ = [
    "HEX",
    "LOWER_ALNUM",
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "PKCE_METHODS",
    "Clock",
    "ConsentFlows",
    "ConsentPageError",
    "Emulator",
    "EmulatorFactory",
    "Grant",
    "LoopbackRoutingTransport",
    "OAuthSandbox",
    "Sandbox",
    "SandboxBase",
    "SandboxServer",
    "SandboxTransport",
    "TokenRecord",
    "approve",
    "error_page",
    "json_response",
    "read_form",
    "read_json_object",
    "redirect_allowed",
    "redirect_with",
    "require_loopback",
    "routing_transports",
    "serve_forever_cli",
    "sorted_query_signature",
    "text_response",
    "verify_pkce",
]

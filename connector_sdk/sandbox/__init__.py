"""Emulators of the Twitch and Shopify APIs, in-process or on loopback.

They answer like the real services (protocol-facts.md sections A and B): token endpoints with
the providers' own success and error bodies, token lifetimes and expiry, 401 on a bad or
expired token, the providers' pagination and rate limits, over seeded, deterministic data.

In-process (no socket)::

    twitch = TwitchSandbox()
    transport = SandboxTransport(twitch)          # sync and async
    client = httpx.Client(transport=transport)

On loopback, keeping the real URLs (manifests are never edited)::

    with SandboxServer(TwitchSandbox(), ShopifySandbox()) as server:
        sync_transport, async_transport = routing_transports(server)

``sandbox_parameters("twitch")`` gives authentication parameter values the default
emulators accept. ``connector-sdk sandbox twitch shopify --port 0`` runs
``serve_forever_cli``.
"""

from ._base import Sandbox, SandboxBase
from ._credentials import sandbox_parameters
from ._factory import SANDBOX_NAMES, create_sandbox
from ._routing import LoopbackRoutingTransport, routing_transports
from ._server import SandboxServer, serve_forever_cli
from ._shopify import ShopifySandbox
from ._transport import SandboxTransport
from ._twitch import TwitchSandbox

__all__ = [
    "SANDBOX_NAMES",
    "LoopbackRoutingTransport",
    "Sandbox",
    "SandboxBase",
    "SandboxServer",
    "SandboxTransport",
    "ShopifySandbox",
    "TwitchSandbox",
    "create_sandbox",
    "routing_transports",
    "sandbox_parameters",
    "serve_forever_cli",
]

"""The libraries a user would pick instead, set up the same way against the bench server.

Each contender makes a sync and an async client that send authenticated GETs to the bench
API, over the socket (``base`` = the server process) or in process (``transport``). All of
them use the same credentials, token endpoint, API and pool limits.

* ``raw httpx``: a hard-coded ``Authorization`` header, token fetched once beforehand. The
  floor: what a request costs with no token logic at all.
* ``connector-sdk``: ``Runtime.client`` / ``Runtime.async_client`` of one runtime, for a
  generic manifest written at run time (``bench_manifest``).
* ``httpx-auth``: ``OAuth2ClientCredentials`` on plain httpx clients (its token cache is a
  class global; ``reset`` clears it).
* ``Authlib``: ``OAuth2Client`` / ``AsyncOAuth2Client`` with ``grant_type=client_credentials``
  (it refuses to send without a token: the token is fetched once, as its docs say, then
  renewed by the client itself).

A peer that is not installed is skipped and reported as such (``pip install -e .[bench]``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _server import BASIC, CLIENT_ID, CLIENT_SECRET, foreign_transports

from connector_sdk import Runtime, hookimpl
from connector_sdk._http.settings import HttpSettings

RAW = "raw httpx"
SDK = "connector-sdk"
#: The SDK as shipped: its default pool (20 connections, 20 keep-alive), not the peers' 20/10.
SDK_DEFAULT = "connector-sdk (default pool)"
HTTPX_AUTH = "httpx-auth"
AUTHLIB = "Authlib"
ALL = (RAW, SDK, HTTPX_AUTH, AUTHLIB)
PEERS = {HTTPX_AUTH: "httpx_auth", AUTHLIB: "authlib"}

#: Same pool for everyone: the SDK's default (httpx's pool cost grows with its size).
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)
TIMEOUT = 30.0


def available(names: tuple[str, ...] = ALL) -> tuple[list[str], list[str]]:
    """``(installed, missing)`` contender names."""
    present, missing = [], []
    for name in names:
        module = PEERS.get(name)
        (present if module is None or importlib.util.find_spec(module) else missing).append(name)
    return present, missing


def bench_manifest(port: int) -> str:
    """A generic client-credentials manifest for the bench server on ``port``."""
    return f"""\
manifest_version: 1
service:
  id: bench
  title: Bench API
  version: 1.0.0
  description: The loopback API of the benchmarks.
parameters:
  type: object
  required: [client_id, client_secret]
  properties:
    client_id: {{type: string}}
    client_secret: {{type: string, secret: true}}
auth:
  grant: client_credentials
  token_url: http://127.0.0.1:{port}/token
  client_authentication: client_secret_basic
  client_id: '{{{{ client_id }}}}'
  client_secret: '{{{{ client_secret }}}}'
  headers:
    Authorization: 'Bearer {{{{ access_token }}}}'
allowed_hosts: ['127.0.0.1']
base_url: http://127.0.0.1:{port}/api
operations:
  get_item:
    title: Get one item
    description: One small JSON object.
    input:
      type: object
      required: [id]
      additionalProperties: false
      properties:
        id: {{type: string, minLength: 1}}
    request:
      method: GET
      path: /items/{{{{ id }}}}
  list_items:
    title: List every item
    description: Every item, one cursor-paginated page of at most 100 at a time.
    input:
      type: object
      additionalProperties: false
      properties:
        first: {{type: integer, minimum: 1, maximum: 100, default: 100}}
    request:
      method: GET
      path: /items
      query:
        first: '{{{{ first }}}}'
    pagination:
      style: cursor
      items: data
      cursor: pagination.cursor
      cursor_param: after
      page_size_param: first
      max_page_size: 100
"""


class _ManifestPlugin:
    def __init__(self, text: str) -> None:
        self.text = text

    @hookimpl
    def register_services(self, register: Callable[[str], object]) -> None:
        register(self.text)


PARAMETERS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def make_runtime(port: int, *, transport: httpx.BaseTransport | None = None,
                 async_transport: httpx.AsyncBaseTransport | None = None,
                 home: Path | None = None, default_pool: bool = False,
                 **options: Any) -> Runtime:
    """A runtime that knows the ``bench`` service, with its own home (nothing of the user's);
    the peers' pool limits unless ``default_pool`` (the SDK's own defaults)."""
    home = home or Path(tempfile.mkdtemp(prefix="bench-home-"))
    pool = {} if default_pool else {
        "max_connections": LIMITS.max_connections or 20,
        "max_keepalive_connections": LIMITS.max_keepalive_connections or 10}
    settings = HttpSettings(allow_loopback=True, transport=transport,
                            async_transport=async_transport, timeout=TIMEOUT, **pool)
    runtime = Runtime(environ={"CONNECTOR_SDK_HOME": str(home),
                               "CONNECTOR_SDK_LOAD_PLUGINS": "bench"},
                      allow_loopback=True, http=settings,
                      extra_plugins={"bench": _ManifestPlugin(bench_manifest(port))}, **options)
    if runtime.plugins.failures:
        raise RuntimeError(f"bench manifest refused: {runtime.plugins.failures}")
    return runtime


@dataclass
class Target:
    """Where the contenders send: the server's port, and in-process transports or None."""

    port: int
    transport: httpx.BaseTransport | None = None
    async_transport: httpx.AsyncBaseTransport | None = None
    early_expiry: float = 0.0  # peers' refresh margin; 0 = their defaults

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fetch_token(self) -> str:
        with httpx.Client(transport=self.transport) as client:
            answer = client.post(f"{self.base}/token", headers={"Authorization": BASIC},
                                 data={"grant_type": "client_credentials"})
            answer.raise_for_status()
            token: str = answer.json()["access_token"]
            return token


@dataclass
class Contender:
    """A sync and an async client for one library; ``ensure``/``aensure`` is what a caller
    of that library does before a request on a cold cache (only Authlib needs it)."""

    name: str
    client: httpx.Client
    async_client: httpx.AsyncClient
    ensure: Callable[[], None] = lambda: None
    aensure: Callable[[], Any] | None = None
    runtime: Runtime | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    async def aensure_token(self) -> None:
        if self.aensure is not None:
            await self.aensure()

    async def aclose(self) -> None:
        self.client.close()
        await self.async_client.aclose()
        for close in self.closers:
            close()
        if self.runtime is not None:
            self.runtime.close()


def _plain(target: Target, **kwargs: Any) -> tuple[httpx.Client, httpx.AsyncClient]:
    common = {"base_url": f"{target.base}/api", "limits": LIMITS, "timeout": TIMEOUT, **kwargs}
    return (httpx.Client(transport=target.transport, **common),
            httpx.AsyncClient(transport=target.async_transport, **common))


def make(name: str, target: Target) -> Contender:
    """A fresh contender with a cold token cache."""
    if name == RAW:
        token = target.fetch_token()
        client, aclient = _plain(target, headers={"Authorization": f"Bearer {token}"})
        return Contender(name, client, aclient)
    if name in (SDK, SDK_DEFAULT):
        runtime = make_runtime(target.port, transport=target.transport,
                               async_transport=target.async_transport,
                               default_pool=name == SDK_DEFAULT)
        authentication = runtime.authentication("bench", PARAMETERS, name="bench")
        return Contender(name, runtime.client(authentication),
                         runtime.async_client(authentication), runtime=runtime)
    if name == HTTPX_AUTH:
        from httpx_auth import OAuth2ClientCredentials
        from httpx_auth._oauth2.common import OAuth2

        OAuth2.token_cache.clear()  # a class-global cache: cold means cleared
        token_client = httpx.Client(transport=target.transport) \
            if target.transport is not None else None
        options: dict[str, Any] = {}
        if target.early_expiry:
            options["early_expiry"] = target.early_expiry
        auth = OAuth2ClientCredentials(f"{target.base}/token", CLIENT_ID, CLIENT_SECRET,
                                       client=token_client, **options)
        client, aclient = _plain(target, auth=auth)
        closers = [token_client.close] if token_client is not None else []
        return Contender(name, client, aclient, closers=closers)
    if name == AUTHLIB:
        with warnings.catch_warnings():  # Authlib 1.9 asks for httpx2; we measure httpx
            warnings.simplefilter("ignore")
            from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client

        # Authlib 1.9 drives httpx2 when it is installed (the mcp extra brings it), and a
        # client of one module takes only that module's transports and limits.
        from authlib.integrations.httpx_client import _compat

        http = _compat.httpx2
        transport, async_transport = target.transport, target.async_transport
        if http is not httpx and transport is not None:
            transport, async_transport = foreign_transports(transport.app, http)
        limits = http.Limits(max_connections=LIMITS.max_connections,
                             max_keepalive_connections=LIMITS.max_keepalive_connections)
        common = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                  "token_endpoint": f"{target.base}/token", "grant_type": "client_credentials",
                  "base_url": f"{target.base}/api", "limits": limits, "timeout": TIMEOUT}
        if target.early_expiry:
            common["leeway"] = target.early_expiry
        sync = OAuth2Client(transport=transport, **common)
        asynchronous = AsyncOAuth2Client(transport=async_transport, **common)

        # Authlib's docs fetch the token once before use and then let the client renew it
        # (ensure_active_token, behind its own refresh lock); callers racing a cold client
        # would each fetch one, so the first fetch is made once under a lock, as an app does
        # when it fetches at start-up.
        sync_lock, async_lock = threading.Lock(), asyncio.Lock()

        def ensure() -> None:
            if not sync.token:
                with sync_lock:
                    if not sync.token:
                        sync.fetch_token()

        async def aensure() -> None:
            if not asynchronous.token:
                async with async_lock:
                    if not asynchronous.token:
                        await asynchronous.fetch_token()

        return Contender(name, sync, asynchronous, ensure=ensure, aensure=aensure)
    raise ValueError(f"unknown contender {name!r}")

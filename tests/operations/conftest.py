"""Fixtures for operation tests: sandbox runtimes (in-process and loopback), the kit's fake
clock and recorded sleeps, and a small loopback service (pytest-httpserver) for rate-limit
signals."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import hookimpl
from connector_sdk._http.settings import HttpSettings
from connector_sdk._manifest.model import Authentication
from connector_sdk._operations.ratelimit import RateLimitPolicy
from connector_sdk._runtime.runtime import Runtime
from connector_sdk.sandbox import SandboxServer, SandboxTransport, routing_transports
from connector_sdk.testing import FakeClock, Sleeps

__all__ = ["FakeClock", "LoopEnv", "LoopPlugin", "SandboxEnv", "Sleeps", "sandbox_env"]


@dataclass
class SandboxEnv:
    mode: str
    runtime: Runtime
    twitch: TwitchSandbox
    shopify: ShopifySandbox

    def auth(self, service: str) -> Authentication:
        if self.runtime.sandbox:
            return self.runtime.resolve_authentication("sbx", service)
        return self.runtime.authentication(service, self.sandbox(service).parameters(),
                                           name="sbx")

    def sandbox(self, service: str) -> Any:
        return self.twitch if service == "twitch" else self.shopify


@contextlib.contextmanager
def sandbox_env(
    mode: str, home: Path, *, twitch: TwitchSandbox | None = None,
    shopify: ShopifySandbox | None = None, policy: RateLimitPolicy | None = None,
) -> Iterator[SandboxEnv]:
    """A runtime whose Twitch and Shopify traffic reaches emulators, never the network."""
    if mode == "sandbox-flag":
        runtime = Runtime(environ={}, home=home, sandbox=True)
        env = SandboxEnv(mode, runtime, runtime.emulator("twitch"), runtime.emulator("shopify"))
        with runtime:
            yield env
        return
    twitch = twitch or TwitchSandbox()
    shopify = shopify or ShopifySandbox()
    if mode == "inprocess":
        transport = SandboxTransport(twitch, shopify)
        runtime = Runtime(environ={}, home=home, http=HttpSettings(
            transport=transport, async_transport=transport))
        with runtime:
            yield SandboxEnv(mode, runtime, twitch, shopify)
        return
    with SandboxServer(twitch, shopify) as server:
        sync_transport, async_transport = routing_transports(server)
        runtime = Runtime(environ={}, home=home, http=HttpSettings(
            transport=sync_transport, async_transport=async_transport))
        with runtime:
            yield SandboxEnv(mode, runtime, twitch, shopify)


@pytest.fixture(params=["sandbox-flag", "loopback"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SandboxEnv]:
    """Runtime(sandbox=True) in-process, and the same emulators over a loopback socket."""
    with sandbox_env(request.param, tmp_path) as value:
        yield value


LOOP_MANIFEST = """\
manifest_version: 1
service:
  id: loop
  title: Loopback API
  version: 1.0.0
  description: A test API on 127.0.0.1.
parameters:
  type: object
  required: [client_id, client_secret]
  properties:
    client_id: {{type: string}}
    client_secret: {{type: string, secret: true}}
auth:
  grant: client_credentials
  token_url: http://127.0.0.1:{port}/token
  client_id: '{{{{ client_id }}}}'
  client_secret: '{{{{ client_secret }}}}'
  headers:
    Authorization: 'Bearer {{{{ access_token }}}}'
allowed_hosts: ['127.0.0.1']
base_url: http://127.0.0.1:{port}/api
rate_limits:
  retry_after: {{style: retry_after}}
operations:
  list_things:
    title: List things
    description: Things, following the Link header.
    input: {{type: object, properties: {{tag: {{type: string}}}}}}
    request: {{method: GET, path: /things, query: {{tag: '{{{{ tag }}}}'}}}}
    pagination: {{style: link, items: things}}
    rate_limit: retry_after
  get_thing:
    title: Get a thing
    description: One thing by id, in the path.
    input:
      type: object
      required: [id]
      properties:
        id: {{type: string}}
        labels: {{type: array, items: {{type: string}}}}
        note: {{type: string}}
        count: {{type: integer}}
    request:
      method: POST
      path: /things/{{{{ id }}}}/labels
      query: {{label: '{{{{ labels }}}}', fixed: true}}
      headers: {{X-Note: '{{{{ note }}}}'}}
      body:
        count: '{{{{ count }}}}'
        note: 'note: {{{{ note }}}}'
        keep: [1, '{{{{ labels }}}}']
"""


class LoopPlugin:
    """Registers the ``loop`` service for a server on ``port``."""

    def __init__(self, port: int) -> None:
        self.text = LOOP_MANIFEST.format(port=port)

    @hookimpl
    def register_services(self, register: Callable[[Any], None]) -> None:
        register(self.text)


@dataclass
class LoopEnv:
    runtime: Runtime
    auth: Authentication
    token: str
    secret: str


@pytest.fixture
def loop(httpserver: Any, tmp_path: Path, make_canary: Callable[[str], str]) -> Iterator[LoopEnv]:
    """The ``loop`` service on pytest-httpserver; its secret and token are canaries."""
    secret, token = make_canary("secret"), make_canary("token")
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": token, "token_type": "bearer", "expires_in": 3600})
    runtime = Runtime(environ={}, home=tmp_path, allow_loopback=True,
                      extra_plugins={"loop": LoopPlugin(httpserver.port)})
    assert not runtime.plugins.failures, runtime.plugins.failures
    auth = runtime.authentication("loop", {"client_id": "app", "client_secret": secret},
                                  name="loop-auth")
    with runtime:
        yield LoopEnv(runtime, auth, token, secret)

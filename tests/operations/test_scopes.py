"""Operations declare the scopes their token needs; the runtime refuses, before any API
request, an operation whose scopes were not granted, naming the missing scopes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import (
    MissingScopesError,
    OperationError,
    call_operation,
    call_operation_sync,
    hookimpl,
    missing_scopes,
    stream_items,
)
from connector_sdk._operations.pages import call_page
from connector_sdk._runtime.runtime import Runtime

from .conftest import SandboxEnv, sandbox_env

pytestmark = pytest.mark.timeout(30)

MANIFEST = """\
manifest_version: 1
service:
  id: scoped
  title: Scoped API
  version: 1.0.0
  description: A test API on 127.0.0.1 whose operations need scopes.
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
  scopes: [things:read, things:write]
  headers:
    Authorization: 'Bearer {{{{ access_token }}}}'
allowed_hosts: ['127.0.0.1']
base_url: http://127.0.0.1:{port}/api
operations:
  read_things:
    title: Read things
    description: Needs things:read.
    input: {{type: object}}
    request: {{method: GET, path: /things}}
    pagination: {{style: link, items: things}}
    scopes: [things:read]
  write_thing:
    title: Write a thing
    description: Needs things:write and things:read.
    input: {{type: object}}
    request: {{method: POST, path: /things, body: {{name: x}}}}
    scopes: [things:write, things:read]
  ping:
    title: Ping
    description: Needs no scope.
    input: {{type: object}}
    request: {{method: GET, path: /ping}}
"""


class ScopedPlugin:
    def __init__(self, port: int) -> None:
        self.text = MANIFEST.format(port=port)

    @hookimpl
    def register_services(self, register: Callable[[Any], None]) -> None:
        register(self.text)


@dataclasses.dataclass
class Env:
    runtime: Runtime
    httpserver: Any
    secret: str
    token: str

    def api_requests(self) -> list[Any]:
        return [r for r, _ in self.httpserver.log if r.path.startswith("/api/")]

    def token_requests(self) -> list[Any]:
        return [r for r, _ in self.httpserver.log if r.path == "/token"]


def make_env(httpserver: Any, home: Path, make_canary: Callable[[str], str],
             granted: str | None) -> Iterator[Env]:
    secret, token = make_canary("secret"), make_canary("token")
    body: dict[str, Any] = {"access_token": token, "token_type": "bearer", "expires_in": 3600}
    if granted is not None:
        body["scope"] = granted
    httpserver.expect_request("/token", method="POST").respond_with_json(body)
    httpserver.expect_request("/api/things", method="GET").respond_with_json(
        {"things": [1, 2]})
    httpserver.expect_request("/api/ping").respond_with_json({"pong": True})
    runtime = Runtime(environ={}, home=home, allow_loopback=True,
                      extra_plugins={"scoped": ScopedPlugin(httpserver.port)})
    assert not runtime.plugins.failures, runtime.plugins.failures
    with runtime:
        yield Env(runtime, httpserver, secret, token)


@pytest.fixture
def read_only(httpserver: Any, tmp_path: Path,
              make_canary: Callable[[str], str]) -> Iterator[Env]:
    """The token endpoint grants things:read only, though both scopes were asked for."""
    yield from make_env(httpserver, tmp_path, make_canary, "things:read")


def auth_of(env: Env) -> Any:
    return env.runtime.authentication(
        "scoped", {"client_id": "app", "client_secret": env.secret}, name="main")


def test_missing_scopes_keeps_the_manifest_order_and_compares_exactly(
        read_only: Env) -> None:
    _, spec = read_only.runtime.services.operation("scoped.write_thing")
    assert missing_scopes(spec, []) == ("things:write", "things:read")
    assert missing_scopes(spec, ["things:read", "other"]) == ("things:write",)
    assert missing_scopes(spec, ("Things:Write", "things:read")) == ("things:write",)
    assert missing_scopes(spec, {"things:read", "things:write"}) == ()
    _, ping = read_only.runtime.services.operation("scoped.ping")
    assert missing_scopes(ping, []) == ()


def test_an_ungranted_scope_is_refused_before_any_api_request(read_only: Env) -> None:
    with pytest.raises(MissingScopesError) as caught:
        asyncio.run(call_operation(read_only.runtime, "scoped.write_thing",
                                   auth_of(read_only), {}))
    error = caught.value
    assert isinstance(error, OperationError)
    assert error.missing == ("things:write",)
    assert (error.operation, error.service, error.authentication) == (
        "scoped.write_thing", "scoped", "main")
    message = str(error)
    assert "'scoped.write_thing'" in message and "'main'" in message
    assert "things:write" in message and "nothing was sent" in message
    assert "auth.scopes" in message  # the fix, for client credentials
    assert read_only.secret not in message and read_only.token not in message
    assert read_only.api_requests() == []
    assert len(read_only.token_requests()) == 1


def test_every_call_path_checks_scopes(read_only: Env) -> None:
    auth = auth_of(read_only)
    runtime = read_only.runtime

    async def first_item() -> Any:
        items = stream_items(runtime, "scoped.write_thing", auth, {})
        try:
            return await items.__anext__()
        finally:
            await items.aclose()

    with pytest.raises(MissingScopesError):
        call_operation_sync(runtime, "scoped.write_thing", auth, {})
    with pytest.raises(MissingScopesError):
        asyncio.run(first_item())
    with pytest.raises(MissingScopesError):
        asyncio.run(call_page(runtime, "scoped.write_thing", auth, {}))
    assert read_only.api_requests() == []


def test_granted_scopes_let_the_operation_through(read_only: Env) -> None:
    auth = auth_of(read_only)
    output = asyncio.run(call_operation(read_only.runtime, "scoped.read_things", auth, {}))
    assert output == {"things": [1, 2]}
    page = asyncio.run(call_page(read_only.runtime, "scoped.read_things", auth, {}))
    assert page.output == {"things": [1, 2]}
    assert asyncio.run(call_operation(read_only.runtime, "scoped.ping", auth, {})) == {
        "pong": True}
    assert len(read_only.api_requests()) == 3
    assert len(read_only.token_requests()) == 1  # the check reads the token the call uses


def test_a_response_without_scope_means_the_scopes_asked_for(
        httpserver: Any, tmp_path: Path, make_canary: Callable[[str], str]) -> None:
    for env in make_env(httpserver, tmp_path, make_canary, None):
        httpserver.expect_request("/api/things", method="POST").respond_with_json({"ok": 1})
        output = asyncio.run(call_operation(env.runtime, "scoped.write_thing", auth_of(env),
                                            {}))
        assert output == {"ok": 1}


def test_unobtainable_scopes_are_refused_before_the_token_request(read_only: Env) -> None:
    """A service built in code (never validated) whose only grant cannot ask for the scope:
    nothing at all is sent, not even the token request."""
    registry = read_only.runtime.services
    service = registry.services["scoped"]
    op = dataclasses.replace(service.operations["read_things"], scopes=("admin",))
    registry.services["scoped"] = dataclasses.replace(
        service, operations={**service.operations, "read_things": op})
    with pytest.raises(MissingScopesError, match=r"admin.*OPERATION-SCOPES-UNOBTAINABLE") as e:
        asyncio.run(call_operation(read_only.runtime, "scoped.read_things",
                                   auth_of(read_only), {}))
    assert e.value.missing == ("admin",)
    assert read_only.httpserver.log == []


# -- Twitch user tokens, through the emulator's consent page ------------------------------------

CALLBACK = "http://127.0.0.1:9/callback"  # a loopback redirect, as a native app registers


def connect(env: SandboxEnv, scopes: list[str]) -> None:
    request = env.runtime.begin_authorization("twitch", "viewer", env.twitch.parameters(),
                                              scopes=scopes, redirect_url=CALLBACK)
    env.runtime.complete_authorization(env.twitch.approve(request.url))


@pytest.fixture(params=["inprocess", "loopback"])
def twitch_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SandboxEnv]:
    with sandbox_env(request.param, tmp_path) as env:
        yield env


def test_a_user_token_without_a_scope_is_refused_before_helix_is_called(
        twitch_env: SandboxEnv) -> None:
    connect(twitch_env, ["user:read:email"])
    runtime = twitch_env.runtime
    me = call_operation_sync(runtime, "twitch.get_authenticated_user", "viewer", {})
    [user] = me["data"]
    assert user["email"] == f"{user['login']}@example.com"
    before = dict(twitch_env.twitch.requests_by_path)
    with pytest.raises(MissingScopesError) as caught:
        call_operation_sync(runtime, "twitch.get_followed_channels", "viewer",
                            {"user_id": user["id"]})
    assert twitch_env.twitch.requests_by_path == before  # not even a token refresh
    assert caught.value.missing == ("user:read:follows",)
    assert caught.value.grant == "authorization_code"
    assert "connect authentication 'viewer' again" in str(caught.value)
    assert ("connector-sdk auth connect twitch --name viewer --scope user:read:email"
            " --scope user:read:follows" in str(caught.value))  # a command that fixes it


def test_a_user_token_with_the_scopes_runs_the_operation(twitch_env: SandboxEnv) -> None:
    connect(twitch_env, ["user:read:email", "user:read:follows"])
    runtime = twitch_env.runtime
    [user] = call_operation_sync(runtime, "twitch.get_authenticated_user", "viewer", {})["data"]
    follows = call_operation_sync(runtime, "twitch.get_followed_channels", "viewer",
                                  {"user_id": user["id"]})
    assert follows["data"] and all("broadcaster_id" in f for f in follows["data"])


def test_an_app_token_is_refused_an_operation_that_needs_a_user(twitch_env: SandboxEnv) -> None:
    auth = twitch_env.auth("twitch")
    before = sum(n for path, n in twitch_env.twitch.requests_by_path.items()
                 if "/helix/" in path)
    with pytest.raises(MissingScopesError, match="user:read:email") as caught:
        call_operation_sync(twitch_env.runtime, "twitch.get_authenticated_user", auth, {})
    assert "enable them for the application" in str(caught.value)
    assert sum(n for path, n in twitch_env.twitch.requests_by_path.items()
               if "/helix/" in path) == before


# -- shown by connector-sdk operations and docs -------------------------------------------------


def test_operations_and_docs_show_the_required_scopes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from connector_sdk.cli import main

    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path / "home"))
    assert main(["operations", "twitch"]) == 0
    text = capsys.readouterr().out
    block = text.split("twitch.get_channel_followers", 1)[1].split("\ntwitch.", 1)[0]
    assert "needs scopes: moderator:read:followers" in block
    assert "needs scopes" not in text.split("twitch.get_users", 1)[1].split("\ntwitch.", 1)[0]
    assert main(["operations", "twitch", "--format", "json"]) == 0
    listed = {op["id"]: op["scopes"] for op in json.loads(capsys.readouterr().out)["operations"]}
    assert listed["get_broadcaster_subscriptions"] == ["channel:read:subscriptions"]
    assert listed["get_authenticated_user"] == ["user:read:email"]
    assert listed["get_users"] == []
    assert main(["docs", "twitch"]) == 0
    page = capsys.readouterr().out
    assert "Grants: OAuth2 **client credentials** (RFC 6749 §4.4), **authorization code**" in page
    assert ("- Authorization endpoint (user consent): `https://id.twitch.tv/oauth2/authorize`"
            in page)
    assert "`user:read:follows`" in page.split("### `twitch.get_followed_channels`", 1)[1]
    assert main(["docs", "shopify"]) == 0
    page = capsys.readouterr().out
    assert "Callback parameter `shop` must equal parameter `shopify_url`" in page
    assert "Callback signed: `hmac` (sorted_query_hmac_sha256)" in page


def test_without_auth_scopes_the_token_decides(read_only: Env) -> None:
    """A client-credentials manifest that asks for no scope gets what the provider configured
    for the application (Shopify's app scopes): the token's scope decides, not the manifest."""
    registry = read_only.runtime.services
    service = registry.services["scoped"]
    registry.services["scoped"] = dataclasses.replace(
        service, auth=dataclasses.replace(service.auth, scopes=()))
    auth = auth_of(read_only)
    assert asyncio.run(call_operation(read_only.runtime, "scoped.read_things", auth, {})) == {
        "things": [1, 2]}  # the token endpoint granted things:read
    with pytest.raises(MissingScopesError, match="things:write"):
        asyncio.run(call_operation(read_only.runtime, "scoped.write_thing", auth, {}))
    assert [r.method for r in read_only.api_requests()] == ["GET"]

"""The whole flow against the Twitch and Shopify emulators: in-process
(``Runtime(sandbox=True)``, ``Emulator.approve``) and over a loopback ``SandboxServer`` (the
consent page fetched and its form posted over a real socket, as a browser would)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from connector_sdk import AuthorizationError, Runtime
from connector_sdk.sandbox import SandboxServer
from connector_sdk.testing import assert_no_canary

from .consent import press_approve

CALLBACK = "http://127.0.0.1:8765/callback"
SERVICES = [("twitch", "/users"), ("shopify", "/shop.json")]


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"CONNECTOR_SDK_HOME": str(tmp_path / "home"),
            "CONNECTOR_SDK_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode()}


@pytest.fixture
def sandboxed(environ: dict[str, str]) -> Iterator[Runtime]:
    with Runtime(environ=environ, sandbox=True) as runtime:
        yield runtime


@pytest.mark.parametrize(("service", "path"), SERVICES)
def test_the_whole_flow_in_process(sandboxed: Runtime, service: str, path: str) -> None:
    emulator = sandboxed.emulator(service)
    begun = sandboxed.begin_authorization(service, "user", emulator.parameters(),
                                          redirect_url=CALLBACK)
    record = sandboxed.complete_authorization(emulator.approve(begun.url))
    assert (record.grant, record.status) == ("authorization_code", "active")
    token = sandboxed.get_token("user")
    assert token.scopes  # the consented scopes
    stored = sandboxed.get_authentication("user")
    assert stored.grant == "authorization_code"


@pytest.mark.parametrize(("service", "path"), SERVICES)
def test_declining_on_the_consent_page_is_access_denied(sandboxed: Runtime, service: str,
                                                        path: str) -> None:
    emulator = sandboxed.emulator(service)
    begun = sandboxed.begin_authorization(service, "user", emulator.parameters(),
                                          redirect_url=CALLBACK)
    with pytest.raises(AuthorizationError) as caught:
        sandboxed.complete_authorization(emulator.approve(begun.url, deny=True))
    assert caught.value.reason == "access_denied"


@pytest.mark.parametrize("service", ["twitch", "shopify"])
def test_a_replayed_code_is_refused_by_the_emulator(sandboxed: Runtime, service: str) -> None:
    emulator = sandboxed.emulator(service)
    begun = sandboxed.begin_authorization(service, "user", emulator.parameters(),
                                          redirect_url=CALLBACK)
    callback = emulator.approve(begun.url)
    sandboxed.complete_authorization(callback)
    again = sandboxed.begin_authorization(service, "user", emulator.parameters(),
                                          redirect_url=CALLBACK)
    query = dict(parse_qsl(urlsplit(callback).query))
    query["state"] = again.state
    if service == "shopify":  # the signature covers the state: a replay needs a new one
        import hashlib
        import hmac

        query.pop("hmac")
        secret = emulator.parameters()["client_secret"]
        message = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
        query["hmac"] = hmac.new(secret.encode(), message.encode(),
                                 hashlib.sha256).hexdigest()
    with pytest.raises(AuthorizationError) as caught:
        sandboxed.complete_authorization(f"{CALLBACK}?{urlencode(query)}")
    assert caught.value.reason == "invalid_grant"


def test_a_tampered_shopify_hmac_is_refused(sandboxed: Runtime) -> None:
    emulator = sandboxed.emulator("shopify")
    begun = sandboxed.begin_authorization("shopify", "shop", emulator.parameters(),
                                          redirect_url=CALLBACK)
    query = dict(parse_qsl(urlsplit(emulator.approve(begun.url)).query))
    query["shop"] = "other-store.myshopify.com"  # signed for another shop
    with pytest.raises(AuthorizationError) as caught:
        sandboxed.complete_authorization(f"{CALLBACK}?{urlencode(query)}")
    assert caught.value.reason == "signature_invalid"


def test_an_expired_emulator_token_is_refreshed_with_the_rotated_refresh_token(
    sandboxed: Runtime,
) -> None:
    emulator = sandboxed.emulator("twitch")
    begun = sandboxed.begin_authorization("twitch", "viewer", emulator.parameters(),
                                          redirect_url=CALLBACK)
    sandboxed.complete_authorization(emulator.approve(begun.url))
    first = sandboxed.get_token("viewer")
    before = sandboxed.store.get("viewer").version
    sandboxed.tokens.invalidate(sandboxed.get_authentication("viewer"), first)
    second = sandboxed.get_token("viewer")  # refused token: refreshed through the emulator
    assert second.access_token != first.access_token
    assert sandboxed.store.get("viewer").version == before + 1


def _consent_over_http(server: SandboxServer, url: str) -> str:
    """What a browser does: open the consent page, press Approve, read the redirect."""
    with httpx.Client() as http:
        answer = press_approve(http, http.get(server.browser_url(url)))
    return str(answer.headers["location"])


@pytest.mark.parametrize(("service", "path"), SERVICES)
def test_the_whole_flow_over_a_loopback_sandbox_server(
    environ: dict[str, str], service: str, path: str, canary: str,
) -> None:
    from connector_shopify.emulator import ShopifySandbox
    from connector_twitch.emulator import TwitchSandbox

    emulators: dict[str, Any] = {"twitch": TwitchSandbox(), "shopify": ShopifySandbox()}
    with SandboxServer(*emulators.values()) as server, \
            Runtime(environ=environ, sandbox_url=server.url) as runtime:
        parameters = emulators[service].parameters()
        begun = runtime.begin_authorization(service, "user", parameters,
                                            redirect_url=CALLBACK)
        callback = _consent_over_http(server, begun.url)
        record = runtime.complete_authorization(callback)
        assert record.grant == "authorization_code"
        token = runtime.get_token("user")
        assert token.token_type == "Bearer"
        assert_no_canary(repr(record) + repr(token), begun.state,
                         dict(parse_qsl(urlsplit(callback).query))["code"])


def test_closing_a_runtime_keeps_a_users_stored_token(environ: dict[str, str]) -> None:
    from connector_twitch.emulator import TwitchSandbox

    twitch = TwitchSandbox()
    with SandboxServer(twitch) as server:
        with Runtime(environ=environ, sandbox_url=server.url) as first:
            begun = first.begin_authorization("twitch", "viewer", twitch.parameters(),
                                              redirect_url=CALLBACK)
            first.complete_authorization(_consent_over_http(server, begun.url))
            first.get_token("viewer")
            assert first.revoke_on_close  # an app token would be revoked on close
        assert twitch.requests_by_path["/oauth2/revoke"] == 0
        twitch.reset_counters()
        with Runtime(environ=environ, sandbox_url=server.url) as second, \
                second.client("viewer") as client:
            assert client.get("/users").status_code == 200
        assert twitch.token_requests == 0  # the stored token was still good: no refresh

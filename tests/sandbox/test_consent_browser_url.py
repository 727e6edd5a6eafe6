"""Consent pages over a real loopback socket: browser_url, /_sandbox/HOST routing, the CLI."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox
from consent_helpers import CALLBACK, callback_query
from sandbox_helpers import TWITCH

from connector_sdk import NetworkPolicyError
from connector_sdk.sandbox import SandboxServer, serve_forever_cli

AUTHORIZE = "https://id.twitch.tv/oauth2/authorize?" + urlencode({
    "response_type": "code", "client_id": TWITCH["client_id"], "redirect_uri": CALLBACK,
    "scope": "user:read:email", "state": "b-1"})


@pytest.fixture
def server(twitch: TwitchSandbox, shopify: ShopifySandbox) -> Iterator[SandboxServer]:
    with SandboxServer(twitch, shopify) as running:
        yield running


def test_browser_url_puts_the_real_host_in_the_path(server: SandboxServer) -> None:
    url = server.browser_url(AUTHORIZE)
    assert url == f"{server.url}/_sandbox/id.twitch.tv/oauth2/authorize?{AUTHORIZE.split('?')[1]}"
    assert server.browser_url("https://my-store.myshopify.com/admin") == \
        f"{server.url}/_sandbox/my-store.myshopify.com/admin"


@pytest.mark.parametrize("url", ["https://evil.example/oauth2/authorize", "ftp://id.twitch.tv/",
                                 "not a url"])
def test_browser_url_refuses_hosts_no_emulator_here_serves(
        server: SandboxServer, url: str) -> None:
    with pytest.raises(NetworkPolicyError, match="no emulator on this sandbox server"):
        server.browser_url(url)


def test_consent_page_and_its_relative_form_work_through_the_prefix(
        server: SandboxServer) -> None:
    with httpx.Client() as http:
        page = http.get(server.browser_url(AUTHORIZE))
        assert page.status_code == 200 and "<h1>Authorize" in page.text
        action = page.text.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        target = page.url.join(action)
        assert target.path == "/_sandbox/id.twitch.tv/oauth2/consent"
        answer = http.post(target, data={"decision": "approve"})
    assert answer.status_code == 302
    assert callback_query(answer.headers["location"])["state"] == "b-1"


def test_prefixed_paths_are_refused_to_a_non_loopback_host_header(
        server: SandboxServer) -> None:
    # A DNS-rebinding page (Host: its own name) must not reach the emulators this way.
    answer = httpx.get(server.browser_url(AUTHORIZE), headers={"Host": "evil.example"})
    assert answer.status_code == 403
    assert httpx.get(server.browser_url(AUTHORIZE),
                     headers={"Host": f"acme.localhost:{server.port}"}).status_code == 200


def test_prefixed_api_calls_answer_as_the_real_host(server: SandboxServer) -> None:
    answer = httpx.get(f"{server.url}/_sandbox/api.twitch.tv/helix/games/top")
    assert answer.status_code == 401 and answer.json()["message"] == "OAuth token is missing"
    unknown = httpx.get(f"{server.url}/_sandbox/evil.example/")
    assert unknown.status_code == 421


def test_redirects_to_an_emulator_here_stay_under_the_prefix() -> None:
    registered = "https://my-store.myshopify.com/app/callback"
    twitch = TwitchSandbox(redirect_uris=[registered])
    url = "https://id.twitch.tv/oauth2/authorize?" + urlencode({
        "response_type": "code", "client_id": TWITCH["client_id"], "redirect_uri": registered,
        "state": "b-2"})
    with SandboxServer(twitch, ShopifySandbox()) as server, httpx.Client() as http:
        base = server.url
        page = http.get(server.browser_url(url))
        action = page.text.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        answer = http.post(page.url.join(action), data={"decision": "deny"})
    location = answer.headers["location"]
    assert location.startswith(f"{base}/_sandbox/my-store.myshopify.com/app/callback?")
    assert "state=b-2" in location


def test_cli_prints_how_a_browser_reaches_the_emulators(twitch: TwitchSandbox) -> None:
    stop = threading.Event()
    lines: list[str] = []
    printed = threading.Event()

    def out(line: str) -> None:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            printed.set()

    thread = threading.Thread(target=serve_forever_cli, args=([twitch], 0, out),
                              kwargs={"stop": stop})
    thread.start()
    assert printed.wait(30)
    stop.set()
    thread.join(30)
    browser = next(line for line in lines if "_sandbox" in line)
    assert "https://HOST/PATH is http://127.0.0.1:" in browser
    assert "/_sandbox/id.twitch.tv/" in browser


def test_server_log_never_shows_a_query_string(
        server: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="connector_sdk.sandbox._server")
    httpx.get(server.browser_url(AUTHORIZE))
    logged = "\n".join(r.getMessage() for r in caplog.records
                        if r.name == "connector_sdk.sandbox._server")
    assert "/_sandbox/id.twitch.tv/oauth2/authorize?…" in logged
    assert "b-1" not in logged and TWITCH["client_id"] not in logged

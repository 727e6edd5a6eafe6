"""The Twitch emulator's consent page in real headless Chromium, over loopback.

The one test that needs a browser (issue 12 item 8): every other consent test drives the
page over HTTP. Chromium opens ``SandboxServer.browser_url`` of a real authorization URL,
the page must have its title and two labelled buttons and run no script; pressing Approve
must land on the test's own loopback callback listener with the code and the state, and the
code must buy a user token. Screenshots: ``artifacts_dir``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from connector_twitch.emulator import TwitchSandbox

from connector_sdk.sandbox import SandboxServer, routing_transports
from connector_sdk.testing import LoopbackServer, Reply

LANDED = "<!doctype html><html lang=en><title>Connected</title><p>You may close this tab.</p>"


def test_approve_in_chromium_lands_on_the_callback_with_code_and_state(
        chromium: Any, artifacts_dir: Path) -> None:
    twitch = TwitchSandbox()
    client_id = twitch.parameters()["client_id"]
    state = secrets.token_urlsafe(16)
    with SandboxServer(twitch) as sandbox, LoopbackServer() as listener:
        listener.route("/oauth2/callback", Reply(
            200, body=LANDED, headers={"Content-Type": "text/html; charset=utf-8"}))
        redirect_uri = f"{listener.url}/oauth2/callback"
        authorization = "https://id.twitch.tv/oauth2/authorize?" + urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
            "scope": "user:read:email user:read:follows", "state": state})
        context = chromium.new_context()
        context.set_default_timeout(30_000)
        try:
            page = context.new_page()
            response = page.goto(sandbox.browser_url(authorization))
            assert response is not None and response.status == 200
            assert page.title() == f"Authorize {client_id} - Twitch (emulator)"
            approve = page.get_by_role("button", name="Approve", exact=True)
            deny = page.get_by_role("button", name="Deny", exact=True)
            assert approve.is_visible() and deny.is_visible()
            assert page.locator("script").count() == 0
            assert page.get_by_role("heading", level=1).inner_text() == f"Authorize {client_id}"
            assert page.get_by_text("user:read:follows").is_visible()
            page.screenshot(path=str(artifacts_dir / "twitch-consent-page.png"), full_page=True)

            with page.expect_navigation(url=f"{redirect_uri}?**"):
                approve.click()
            assert page.title() == "Connected"
            page.screenshot(path=str(artifacts_dir / "twitch-consent-callback.png"))
        finally:
            context.close()

        callbacks = listener.requests("/oauth2/callback")
        assert len(callbacks) == 1 and callbacks[0].method == "GET"
        query = parse_qs(urlsplit(callbacks[0].path).query)
        assert query["state"] == [state]
        assert query["scope"] == ["user:read:email user:read:follows"]
        (code,) = query["code"]

        sync_transport, _ = routing_transports(sandbox)
        with httpx.Client(transport=sync_transport) as http:
            token = http.post("https://id.twitch.tv/oauth2/token", data={
                **twitch.parameters(), "grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri})
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == ["user:read:email", "user:read:follows"]
    assert (artifacts_dir / "twitch-consent-page.png").stat().st_size > 1000

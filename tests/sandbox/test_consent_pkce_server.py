"""The shared consent machinery and PKCE, against the generic RFC 6749 server over HTTP."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import httpx
import pytest
from consent_helpers import CALLBACK, authorization_url, callback_query
from sandbox_helpers import FakeClock

from connector_sdk.sandbox import (
    ConsentPageError,
    OAuthSandbox,
    SandboxTransport,
    redirect_allowed,
    verify_pkce,
)

AUTHORIZE = "https://auth.example.com/authorize"
TOKEN = "https://auth.example.com/token"
# RFC 7636 Appendix B.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.fixture
def server(clock: FakeClock) -> OAuthSandbox:
    return OAuthSandbox(clock=clock)


@pytest.fixture
def http(server: OAuthSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(transport=SandboxTransport(server)) as client:
        yield client


def start(server: OAuthSandbox, **extra: str) -> str:
    params = {"response_type": "code", "client_id": server.parameters()["client_id"],
              "redirect_uri": CALLBACK, "scope": "read write", "state": "s-1", **extra}
    return authorization_url(AUTHORIZE, **params)


def exchange(http: httpx.Client, server: OAuthSandbox, code: str, **extra: str) -> httpx.Response:
    return http.post(TOKEN, data={**server.parameters(), "grant_type": "authorization_code",
                                  "code": code, "redirect_uri": CALLBACK, **extra})


def test_verify_pkce_accepts_the_rfc_7636_example_and_nothing_else() -> None:
    assert verify_pkce(RFC_CHALLENGE, "S256", RFC_VERIFIER)
    assert not verify_pkce(RFC_CHALLENGE, "S256", RFC_VERIFIER[:-1] + "l")
    assert not verify_pkce(RFC_CHALLENGE, "plain", RFC_VERIFIER)
    assert verify_pkce(RFC_VERIFIER, "plain", RFC_VERIFIER)
    assert not verify_pkce(RFC_CHALLENGE, "S512", RFC_VERIFIER)


@pytest.mark.parametrize("verifier", ["short", "x" * 129, "a" * 42 + "!", "é" * 43, ""])
def test_verifier_outside_the_rfc_syntax_never_verifies(verifier: str) -> None:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert not verify_pkce(challenge.rstrip(b"=").decode(), "S256", verifier)
    assert not verify_pkce(verifier, "plain", verifier)


def test_approved_code_with_the_right_verifier_gets_tokens(
        server: OAuthSandbox, http: httpx.Client) -> None:
    callback = server.approve(start(server, code_challenge=RFC_CHALLENGE,
                                    code_challenge_method="S256"))
    query = callback_query(callback)
    assert query["state"] == "s-1"
    answer = exchange(http, server, query["code"], code_verifier=RFC_VERIFIER)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    assert answer.headers["cache-control"] == "no-store"
    me = http.get("https://auth.example.com/api/me",
                  headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["sub"] == "user-1" and me.json()["scope"] == "read write"


@pytest.mark.parametrize("verifier", [None, RFC_VERIFIER[:-1] + "l", RFC_CHALLENGE])
def test_a_wrong_or_missing_pkce_verifier_is_invalid_grant(
        server: OAuthSandbox, http: httpx.Client, verifier: str | None) -> None:
    code = callback_query(server.approve(start(server, code_challenge=RFC_CHALLENGE,
                                               code_challenge_method="S256")))["code"]
    answer = exchange(http, server, code, **({"code_verifier": verifier} if verifier else {}))
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant",
                             "error_description": "PKCE verification failed"}
    assert server.tokens_issued == 0


def test_require_pkce_refuses_a_request_without_challenge_by_redirect(clock: FakeClock) -> None:
    server = OAuthSandbox(require_pkce=True, clock=clock)
    with httpx.Client(transport=SandboxTransport(server)) as http:
        answer = http.get(start(server))
    assert answer.status_code == 302
    assert callback_query(answer.headers["location"]) == {
        "error": "invalid_request", "error_description": "code challenge required",
        "state": "s-1"}


def test_deny_redirects_with_access_denied_and_the_state(server: OAuthSandbox) -> None:
    query = callback_query(server.approve(start(server), deny=True))
    assert query == {"error": "access_denied", "error_description": "the user denied access",
                     "state": "s-1"}


def test_replayed_code_is_refused_and_revokes_what_it_issued(
        server: OAuthSandbox, http: httpx.Client) -> None:
    code = callback_query(server.approve(start(server)))["code"]
    first = exchange(http, server, code)
    assert first.status_code == 200
    again = exchange(http, server, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    me = http.get("https://auth.example.com/api/me",
                  headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert me.status_code == 401  # RFC 6749 §4.1.2: tokens from a replayed code are revoked
    refreshed = http.post(TOKEN, data={**server.parameters(), "grant_type": "refresh_token",
                                       "refresh_token": first.json()["refresh_token"]})
    assert refreshed.status_code == 400


def test_redirect_uri_must_equal_the_authorized_one_and_the_code_is_spent(
        server: OAuthSandbox, http: httpx.Client) -> None:
    code = callback_query(server.approve(start(server)))["code"]
    wrong = exchange(http, server, code, redirect_uri="http://127.0.0.1:8765/other")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert exchange(http, server, code).status_code == 400


def test_code_expires_after_ten_minutes(
        server: OAuthSandbox, http: httpx.Client, clock: FakeClock) -> None:
    code = callback_query(server.approve(start(server)))["code"]
    clock.advance(600)
    assert exchange(http, server, code).status_code == 400


def test_refresh_rotates_and_a_spent_refresh_token_is_invalid_grant(
        server: OAuthSandbox, http: httpx.Client) -> None:
    code = callback_query(server.approve(start(server)))["code"]
    old = exchange(http, server, code).json()["refresh_token"]

    def refresh(token: str) -> httpx.Response:
        return http.post(TOKEN, data={**server.parameters(), "grant_type": "refresh_token",
                                      "refresh_token": token})

    new = refresh(old)
    assert new.status_code == 200 and new.json()["refresh_token"] != old
    assert refresh(old).json()["error"] == "invalid_grant"
    assert refresh(new.json()["refresh_token"]).status_code == 200


def test_client_authentication_by_basic_or_form_but_not_both(
        server: OAuthSandbox, http: httpx.Client) -> None:
    params = server.parameters()
    code = callback_query(server.approve(start(server)))["code"]
    basic = http.post(TOKEN, auth=(params["client_id"], params["client_secret"]), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK})
    assert basic.status_code == 200, basic.text
    both = http.post(TOKEN, auth=(params["client_id"], params["client_secret"]),
                     data={**params, "grant_type": "refresh_token", "refresh_token": "x"})
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    bad = http.post(TOKEN, auth=(params["client_id"], "wrong"),
                    data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(("change", "title"), [
    ({"client_id": "nobody"}, "Unknown client"),
    ({"redirect_uri": "https://evil.example/cb"}, "Redirect URI not registered"),
    ({"redirect_uri": "http://127.0.0.1:8765/cb#fragment"}, "Redirect URI not registered"),
])
def test_untrusted_client_or_redirect_is_an_error_page_never_a_redirect(
        server: OAuthSandbox, http: httpx.Client, change: dict[str, str], title: str) -> None:
    answer = http.get(start(server, **change))
    assert answer.status_code == 400 and "location" not in answer.headers
    assert f"<h1>{title}</h1>" in answer.text
    with pytest.raises(ConsentPageError, match="answered 400"):
        server.approve(start(server, **change))


def test_consent_id_is_single_use(server: OAuthSandbox, http: httpx.Client) -> None:
    page = http.get(start(server))
    action = page.text.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    target = page.url.join(action)
    assert http.post(target, data={"decision": "approve"}).status_code == 302
    again = http.post(target, data={"decision": "approve"})
    assert again.status_code == 400 and "Consent request not found" in again.text


def test_consent_page_is_plain_html_that_cannot_be_framed(
        server: OAuthSandbox, http: httpx.Client) -> None:
    page = http.get(start(server, scope="read <script>x</script>"))
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert '<button type="submit" name="decision" value="approve">Approve</button>' in page.text
    assert '<button type="submit" name="decision" value="deny">Deny</button>' in page.text


@pytest.mark.parametrize(("uri", "allowed"), [
    ("http://127.0.0.1:51234/callback", True),
    ("http://127.9.9.9/cb", True),
    ("http://[::1]:8080/cb", True),
    ("http://localhost:3000/", True),
    ("http://acme.localhost:8443/oauth2/callback", True),
    ("https://auth.example.com/oauth2/callback", True),  # registered below
    ("https://auth.example.com/oauth2/callback/", False),
    ("http://auth.example.com/oauth2/callback", False),
    ("http://127.0.0.1.evil.example/cb", False),
    ("http://localhost.evil.example/cb", False),
    ("javascript:alert(1)", False),
    ("http://127.0.0.1:99999/cb", False),
    ("", False),
])
def test_redirect_allowed_is_exact_or_loopback(uri: str, allowed: bool) -> None:
    assert redirect_allowed(uri, ["https://auth.example.com/oauth2/callback"]) is allowed

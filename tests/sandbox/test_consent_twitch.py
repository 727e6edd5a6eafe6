"""Twitch's authorization code grant, refresh tokens and user tokens on Helix, over HTTP."""

from __future__ import annotations

import httpx
import pytest
from connector_twitch.emulator import TwitchSandbox
from consent_helpers import CALLBACK, authorization_url, callback_query
from sandbox_helpers import TWITCH, FakeClock, helix_headers, twitch_token

from connector_sdk.sandbox import ConsentPageError, SandboxTransport

AUTHORIZE = "https://id.twitch.tv/oauth2/authorize"
TOKEN = "https://id.twitch.tv/oauth2/token"
HELIX = "https://api.twitch.tv/helix"


def start(**extra: str) -> str:
    params = {"response_type": "code", "client_id": TWITCH["client_id"],
              "redirect_uri": CALLBACK, "scope": "user:read:email user:read:follows",
              "state": "st-42", **extra}
    return authorization_url(AUTHORIZE, **params)


def exchange(client: httpx.Client, code: str, **extra: str) -> httpx.Response:
    return client.post(TOKEN, data={**TWITCH, "code": code, "grant_type": "authorization_code",
                                    "redirect_uri": CALLBACK, **extra})


def refresh(client: httpx.Client, token: str) -> httpx.Response:
    return client.post(TOKEN, data={**TWITCH, "grant_type": "refresh_token",
                                    "refresh_token": token})


def user_tokens(twitch: TwitchSandbox, client: httpx.Client, **extra: str) -> dict[str, object]:
    code = callback_query(twitch.approve(start(**extra)))["code"]
    answer = exchange(client, code)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_approve_redirects_with_code_scope_and_state(twitch: TwitchSandbox) -> None:
    query = callback_query(twitch.approve(start()))
    assert list(query) == ["code", "scope", "state"]
    assert query["scope"] == "user:read:email user:read:follows"
    assert query["state"] == "st-42"
    assert len(query["code"]) == 30 and query["code"].isalnum()


def test_deny_redirects_with_twitchs_access_denied(twitch: TwitchSandbox) -> None:
    assert callback_query(twitch.approve(start(), deny=True)) == {
        "error": "access_denied", "error_description": "The user denied you access",
        "state": "st-42"}


def test_code_exchange_answers_twitchs_user_token_body(
        twitch: TwitchSandbox, client: httpx.Client) -> None:
    code = callback_query(twitch.approve(start()))["code"]
    answer = exchange(client, code)
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["access_token", "expires_in", "refresh_token", "scope", "token_type"]
    assert body["scope"] == ["user:read:email", "user:read:follows"]
    assert body["token_type"] == "bearer" and body["expires_in"] == 14400
    assert answer.headers["cache-control"] == "no-store"


def test_replayed_code_is_twitchs_invalid_authorization_code(
        twitch: TwitchSandbox, client: httpx.Client) -> None:
    code = callback_query(twitch.approve(start()))["code"]
    first = exchange(client, code).json()
    again = exchange(client, code)
    assert again.status_code == 400
    assert again.json() == {"status": 400, "message": "Invalid authorization code"}
    validate = client.get("https://id.twitch.tv/oauth2/validate",
                          headers={"Authorization": f"OAuth {first['access_token']}"})
    assert validate.status_code == 401  # the replay revoked what the code had issued


def test_code_for_another_redirect_uri_is_refused(
        twitch: TwitchSandbox, client: httpx.Client) -> None:
    code = callback_query(twitch.approve(start()))["code"]
    answer = exchange(client, code, redirect_uri="http://127.0.0.1:8765/elsewhere")
    assert answer.status_code == 400
    assert answer.json()["message"] == "Parameter redirect_uri does not match registered URI"


def test_code_expires_after_ten_minutes(
        twitch: TwitchSandbox, client: httpx.Client, clock: FakeClock) -> None:
    code = callback_query(twitch.approve(start()))["code"]
    clock.advance(601)
    assert exchange(client, code).json()["message"] == "Invalid authorization code"


def test_code_of_another_client_is_refused(clock: FakeClock) -> None:
    other = {"c" * 30: "d" * 30}
    twitch = TwitchSandbox(clients={**other, TWITCH["client_id"]: TWITCH["client_secret"]},
                           clock=clock)
    code = callback_query(twitch.approve(start(client_id="c" * 30)))["code"]
    with httpx.Client(transport=SandboxTransport(twitch)) as client:
        assert exchange(client, code).status_code == 400


def test_refresh_rotates_and_a_spent_token_is_twitchs_invalid_refresh_token(
        twitch: TwitchSandbox, client: httpx.Client) -> None:
    first = user_tokens(twitch, client)
    rotated = refresh(client, str(first["refresh_token"]))
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    assert rotated.json()["scope"] == first["scope"]
    spent = refresh(client, str(first["refresh_token"]))
    assert spent.status_code == 400
    assert spent.json() == {"status": 400, "error": "Bad Request",
                            "message": "Invalid refresh token"}
    assert refresh(client, "unknown").json()["message"] == "Invalid refresh token"


def test_validate_names_the_user_and_scopes_of_a_user_token(
        twitch: TwitchSandbox, client: httpx.Client) -> None:
    token = user_tokens(twitch, client)["access_token"]
    body = client.get("https://id.twitch.tv/oauth2/validate",
                      headers={"Authorization": f"OAuth {token}"}).json()
    assert body["login"] == "twitchdev" and body["user_id"] == "141981764"
    assert body["scopes"] == ["user:read:email", "user:read:follows"]
    app = client.get("https://id.twitch.tv/oauth2/validate",
                     headers={"Authorization": f"OAuth {twitch_token(client)}"}).json()
    assert "login" not in app and "user_id" not in app and app["scopes"] == []


def test_get_users_with_a_user_token_is_the_user_with_email_only_by_scope(
        twitch: TwitchSandbox, client: httpx.Client) -> None:
    with_email = user_tokens(twitch, client)["access_token"]
    users = client.get(f"{HELIX}/users", headers=helix_headers(str(with_email))).json()["data"]
    assert [u["login"] for u in users] == ["twitchdev"]
    assert users[0]["email"] == "twitchdev@example.com"
    without = user_tokens(twitch, client, scope="user:read:follows",
                          force_verify="true")["access_token"]
    users = client.get(f"{HELIX}/users", headers=helix_headers(str(without))).json()["data"]
    assert "email" not in users[0]
    app = client.get(f"{HELIX}/users", headers=helix_headers(twitch_token(client)))
    assert app.status_code == 400


def test_followed_channels_needs_a_user_token_with_its_scope(
        twitch: TwitchSandbox, client: httpx.Client) -> None:
    url = f"{HELIX}/channels/followed?user_id=141981764&first=5"
    app = client.get(url, headers=helix_headers(twitch_token(client)))
    assert app.status_code == 401
    assert app.json() == {"error": "Unauthorized", "status": 401,
                          "message": "Missing User OAUTH Token"}
    no_scope = user_tokens(twitch, client, scope="user:read:email")["access_token"]
    missing = client.get(url, headers=helix_headers(str(no_scope)))
    assert missing.status_code == 401
    assert missing.json()["message"] == "Missing scope: user:read:follows"
    token = user_tokens(twitch, client, force_verify="true")["access_token"]
    page = client.get(url, headers=helix_headers(str(token))).json()
    assert page["total"] == 30 and len(page["data"]) == 5 and page["pagination"]["cursor"]
    other = client.get(f"{HELIX}/channels/followed?user_id=1", headers=helix_headers(str(token)))
    assert other.status_code == 401


def test_consent_is_remembered_unless_force_verify(twitch: TwitchSandbox) -> None:
    twitch.approve(start())
    again = twitch.approve(start(state="second"))  # no page: these scopes are approved
    assert callback_query(again)["state"] == "second"
    with pytest.raises(ConsentPageError, match="force_verify"):
        twitch.approve(start(), deny=True)
    denied = twitch.approve(start(force_verify="true"), deny=True)
    assert callback_query(denied)["error"] == "access_denied"


@pytest.mark.parametrize(("change", "heading"), [
    ({"client_id": "z" * 30}, "invalid client"),
    ({"redirect_uri": "https://evil.example/callback"}, "redirect_mismatch"),
])
def test_unknown_client_or_redirect_is_an_error_page(
        client: httpx.Client, change: dict[str, str], heading: str) -> None:
    answer = client.get(start(**change))
    assert answer.status_code == 400 and "location" not in answer.headers
    assert f"<h1>{heading}</h1>" in answer.text


def test_registered_redirect_uris_are_accepted(clock: FakeClock) -> None:
    registered = "https://auth.example.com/oauth2/callback"
    twitch = TwitchSandbox(redirect_uris=[registered], clock=clock)
    query = callback_query(twitch.approve(start(redirect_uri=registered)), expect=registered)
    assert query["state"] == "st-42"


def test_response_type_other_than_code_redirects_with_unsupported_response_type(
        client: httpx.Client) -> None:
    answer = client.get(start(response_type="token"))
    assert answer.status_code == 302
    assert callback_query(answer.headers["location"])["error"] == "unsupported_response_type"


def test_user_tokens_have_their_own_rate_bucket(
        twitch: TwitchSandbox, client: httpx.Client) -> None:
    token = user_tokens(twitch, client)["access_token"]
    app = client.get(f"{HELIX}/games/top", headers=helix_headers(twitch_token(client)))
    user = client.get(f"{HELIX}/games/top", headers=helix_headers(str(token)))
    assert user.status_code == 200
    assert app.headers["ratelimit-remaining"] == user.headers["ratelimit-remaining"]

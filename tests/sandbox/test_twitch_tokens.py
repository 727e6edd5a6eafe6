"""Twitch's id.twitch.tv emulation: token, validate and revoke, with Twitch's own bodies."""

from __future__ import annotations

import httpx
from connector_twitch.emulator import TwitchSandbox
from sandbox_helpers import TWITCH, FakeClock, helix_headers, twitch_token

from connector_sdk.sandbox import SandboxTransport

TOKEN_URL = "https://id.twitch.tv/oauth2/token"


def _form(**overrides: str) -> dict[str, str]:
    form = {"client_id": TWITCH["client_id"], "client_secret": TWITCH["client_secret"],
            "grant_type": "client_credentials"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_client_credentials_in_form_body_get_a_bearer_token(
    client: httpx.Client, twitch: TwitchSandbox
) -> None:
    response = client.post(TOKEN_URL, data=_form())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 5011271
    assert len(body["access_token"]) == 30
    assert response.headers["cache-control"] == "no-store"
    assert twitch.token_requests == 1
    assert twitch.requests_by_path["/oauth2/token"] == 1


def test_token_lifetime_is_a_knob(clock: FakeClock) -> None:
    sandbox = TwitchSandbox(token_lifetime=60, clock=clock)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        assert c.post(TOKEN_URL, data=_form()).json()["expires_in"] == 60


def test_unknown_client_is_400_invalid_client(client: httpx.Client) -> None:
    response = client.post(TOKEN_URL, data=_form(client_id="x" * 30))
    assert (response.status_code, response.json()) == (
        400, {"status": 400, "message": "invalid client"})


def test_wrong_secret_is_403_invalid_client_secret(client: httpx.Client) -> None:
    response = client.post(TOKEN_URL, data=_form(client_secret="wrong"))
    assert (response.status_code, response.json()) == (
        403, {"status": 403, "message": "invalid client secret"})


def test_other_grant_type_is_400_invalid_grant_type(client: httpx.Client) -> None:
    response = client.post(TOKEN_URL, data=_form(grant_type="password"))
    assert (response.status_code, response.json()) == (
        400, {"status": 400, "message": "invalid grant type"})


def test_credentials_in_query_string_or_basic_header_are_not_read(client: httpx.Client) -> None:
    in_query = client.post(TOKEN_URL, params=_form())
    basic = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                        auth=(TWITCH["client_id"], TWITCH["client_secret"]))
    for response in (in_query, basic):
        assert (response.status_code, response.json()) == (
            400, {"status": 400, "message": "missing client id"})


def test_form_with_charset_suffix_is_read(client: httpx.Client) -> None:
    body = str(httpx.QueryParams(_form())).encode()
    response = client.post(TOKEN_URL, content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
    assert response.status_code == 200


def test_validate_reports_client_and_remaining_lifetime(
    client: httpx.Client, clock: FakeClock
) -> None:
    token = twitch_token(client)
    clock.advance(11)
    for prefix in ("OAuth", "Bearer"):
        response = client.get("https://id.twitch.tv/oauth2/validate",
                              headers={"Authorization": f"{prefix} {token}"})
        assert response.status_code == 200
        assert response.json() == {"client_id": TWITCH["client_id"], "scopes": [],
                                   "expires_in": 5011260}


def test_validate_rejects_unknown_and_expired_tokens(
    client: httpx.Client, clock: FakeClock
) -> None:
    token = twitch_token(client)
    clock.advance(5011271)
    for value in (token, "nope"):
        response = client.get("https://id.twitch.tv/oauth2/validate",
                              headers={"Authorization": f"OAuth {value}"})
        assert (response.status_code, response.json()) == (
            401, {"status": 401, "message": "invalid access token"})


def test_revoke_then_helix_answers_401(client: httpx.Client) -> None:
    token = twitch_token(client)
    users = "https://api.twitch.tv/helix/users?login=twitchdev"
    assert client.get(users, headers=helix_headers(token)).status_code == 200
    revoked = client.post("https://id.twitch.tv/oauth2/revoke",
                          data={"client_id": TWITCH["client_id"], "token": token})
    assert (revoked.status_code, revoked.content) == (200, b"")
    after = client.get(users, headers=helix_headers(token))
    assert (after.status_code, after.json()) == (
        401, {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"})


def test_revoke_errors_follow_twitch(client: httpx.Client) -> None:
    token = twitch_token(client)
    url = "https://id.twitch.tv/oauth2/revoke"
    bad_token = client.post(url, data={"client_id": TWITCH["client_id"], "token": "nope"})
    assert (bad_token.status_code, bad_token.json()) == (
        400, {"status": 400, "message": "Invalid token"})
    no_client = client.post(url, data={"client_id": "y" * 30, "token": token})
    assert (no_client.status_code, no_client.json()) == (
        404, {"status": 404, "message": "client does not exist"})
    twice = [client.post(url, data={"client_id": TWITCH["client_id"], "token": token})
             for _ in range(2)]
    assert [r.status_code for r in twice] == [200, 400]


def test_get_on_token_endpoint_is_refused(client: httpx.Client, twitch: TwitchSandbox) -> None:
    response = client.get(TOKEN_URL)
    assert response.status_code == 405
    assert twitch.tokens_issued == 0


def test_custom_clients_replace_the_default() -> None:
    sandbox = TwitchSandbox(clients={"a" * 30: "s" * 30})
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        assert c.post(TOKEN_URL, data=_form()).status_code == 400
        ok = c.post(TOKEN_URL, data=_form(client_id="a" * 30, client_secret="s" * 30))
        assert ok.status_code == 200

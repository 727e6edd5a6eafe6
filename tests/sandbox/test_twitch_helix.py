"""Twitch Helix emulation: auth headers, endpoints, pagination and the rate-limit bucket."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from connector_twitch.emulator import TwitchSandbox
from sandbox_helpers import TWITCH, FakeClock, helix_headers, twitch_token

from connector_sdk.sandbox import SandboxTransport

HELIX = "https://api.twitch.tv/helix"


@pytest.fixture
def token(client: httpx.Client) -> str:
    return twitch_token(client)


@pytest.fixture
def get(client: httpx.Client, token: str):  # type: ignore[no-untyped-def]
    def call(path: str, **params: object) -> httpx.Response:
        return client.get(f"{HELIX}{path}", params=params,  # type: ignore[arg-type]
                          headers=helix_headers(token))
    return call


def _unauthorized(message: str) -> dict[str, object]:
    return {"error": "Unauthorized", "status": 401, "message": message}


# authentication ---------------------------------------------------------------------------

def test_missing_token_is_401_oauth_token_is_missing(client: httpx.Client) -> None:
    response = client.get(f"{HELIX}/users?login=twitchdev",
                          headers={"Client-Id": TWITCH["client_id"]})
    assert (response.status_code, response.json()) == (401, _unauthorized("OAuth token is missing"))


def test_oauth_prefix_is_not_accepted_on_helix(client: httpx.Client, token: str) -> None:
    response = client.get(f"{HELIX}/users?login=twitchdev", headers={
        "Authorization": f"OAuth {token}", "Client-Id": TWITCH["client_id"]})
    assert response.status_code == 401


def test_unknown_token_is_401_invalid_oauth_token(client: httpx.Client) -> None:
    response = client.get(f"{HELIX}/users?login=twitchdev", headers=helix_headers("x" * 30))
    assert (response.status_code, response.json()) == (401, _unauthorized("Invalid OAuth token"))


def test_client_id_of_another_app_is_401_do_not_match(clock: FakeClock) -> None:
    other = "z" * 30
    sandbox = TwitchSandbox(clients={TWITCH["client_id"]: TWITCH["client_secret"], other: "s"},
                            clock=clock)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        token = twitch_token(c)
        response = c.get(f"{HELIX}/users?login=twitchdev", headers=helix_headers(token, other))
    assert (response.status_code, response.json()) == (
        401, _unauthorized("Client ID and OAuth token do not match"))


def test_missing_client_id_is_401(client: httpx.Client, token: str) -> None:
    response = client.get(f"{HELIX}/users?login=twitchdev",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"


def test_token_expires_after_its_lifetime(
    client: httpx.Client, token: str, clock: FakeClock, twitch: TwitchSandbox
) -> None:
    url = f"{HELIX}/users?login=twitchdev"
    clock.advance(5011270)
    assert client.get(url, headers=helix_headers(token)).status_code == 200
    clock.advance(1)
    expired = client.get(url, headers=helix_headers(token))
    assert (expired.status_code, expired.json()) == (401, _unauthorized("Invalid OAuth token"))
    fresh = twitch_token(client)
    assert client.get(url, headers=helix_headers(fresh)).status_code == 200
    assert twitch.token_requests == 2
    assert twitch.api_requests == 3


def test_expire_and_revoke_all_tokens_knobs(
    client: httpx.Client, token: str, twitch: TwitchSandbox
) -> None:
    assert twitch.expire_all_tokens() == 1
    assert client.get(f"{HELIX}/users?id=1", headers=helix_headers(token)).status_code == 401
    second = twitch_token(client)
    assert twitch.revoke_all_tokens() == 1
    assert client.get(f"{HELIX}/users?id=1", headers=helix_headers(second)).status_code == 401


# endpoints ----------------------------------------------------------------------------------

def test_users_by_login_matches_the_reference_example(get) -> None:  # type: ignore[no-untyped-def]
    response = get("/users", login="twitchdev")
    assert response.status_code == 200
    (user,) = response.json()["data"]
    assert user["id"] == "141981764"
    assert user["display_name"] == "TwitchDev"
    assert set(user) == {"id", "login", "display_name", "type", "broadcaster_type", "description",
                         "profile_image_url", "offline_image_url", "view_count", "created_at"}
    assert "pagination" not in response.json()


def test_users_by_repeated_id_and_login(get, twitch: TwitchSandbox) -> None:  # type: ignore[no-untyped-def]
    ids = [u["id"] for u in twitch.data.users[5:8]]
    response = get("/users", id=ids, login=[twitch.data.users[20]["login"], "twitchdev"])
    assert {u["id"] for u in response.json()["data"]} == {
        *ids, twitch.data.users[20]["id"], "141981764"}


def test_users_needs_id_or_login_and_at_most_100(get) -> None:  # type: ignore[no-untyped-def]
    none = get("/users")
    assert (none.status_code, none.json()["message"]) == (
        400, "Must provide an ID, Login or OAuth Token.")
    assert none.json()["error"] == "Bad Request"
    assert get("/users", id=[str(i) for i in range(60)],
               login=[f"u{i}" for i in range(41)]).status_code == 400
    assert get("/users", id=[str(i) for i in range(100)]).status_code == 200


def test_streams_are_sorted_by_viewers_and_filterable(get, twitch: TwitchSandbox) -> None:  # type: ignore[no-untyped-def]
    page = get("/streams").json()
    counts = [s["viewer_count"] for s in page["data"]]
    assert len(counts) == 20 and counts == sorted(counts, reverse=True)
    assert set(page["data"][0]) == {
        "id", "user_id", "user_login", "user_name", "game_id", "game_name", "type", "title",
        "viewer_count", "started_at", "language", "thumbnail_url", "tag_ids", "tags", "is_mature"}
    german = get("/streams", language="de", first=100).json()["data"]
    assert german and all(s["language"] == "de" for s in german)
    login = twitch.data.streams[7]["user_login"]
    assert [s["user_login"] for s in get("/streams", user_login=login).json()["data"]] == [login]
    assert get("/streams", type="vodcast").status_code == 400


def test_games_top_and_games_lookup(get) -> None:  # type: ignore[no-untyped-def]
    top = get("/games/top", first=100).json()
    assert len(top["data"]) == 100 and top["pagination"]["cursor"]
    fortnite = get("/games", id="33214").json()["data"]
    assert fortnite == [{"id": "33214", "name": "Fortnite", "igdb_id": "1905",
                         "box_art_url": "https://static-cdn.jtvnw.net/ttv-boxart/"
                         "33214-{width}x{height}.jpg"}]
    assert get("/games", name="Fortnite").json()["data"] == fortnite
    assert get("/games", igdb_id="1905").json()["data"] == fortnite
    assert get("/games").status_code == 400


def test_search_categories_and_channels(get) -> None:  # type: ignore[no-untyped-def]
    categories = get("/search/categories", query="grand theft").json()["data"]
    assert [c["name"] for c in categories] == ["Grand Theft Auto V"]
    channels = get("/search/channels", query="twitchdev").json()
    assert channels["data"][0]["broadcaster_login"] == "twitchdev"
    assert channels["data"][0]["started_at"] == ""  # offline
    live = get("/search/channels", query="minecraft", live_only="true").json()["data"]
    assert live and all(c["is_live"] and c["started_at"] for c in live)
    assert get("/search/channels").status_code == 400
    assert get("/search/categories", query="").status_code == 400


def test_channels_need_broadcaster_id(get, twitch: TwitchSandbox) -> None:  # type: ignore[no-untyped-def]
    assert get("/channels").status_code == 400
    ids = [twitch.data.users[1]["id"], "141981764"]
    data = get("/channels", broadcaster_id=ids).json()["data"]
    assert [c["broadcaster_id"] for c in data] == ids
    assert "is_live" not in data[0] and "_is_live" not in data[0]


def test_videos_need_exactly_one_selector(get, twitch: TwitchSandbox) -> None:  # type: ignore[no-untyped-def]
    user_id = twitch.data.videos[0]["user_id"]
    assert get("/videos").status_code == 400
    assert get("/videos", user_id=user_id, game_id="33214").status_code == 400
    by_user = get("/videos", user_id=user_id, first=100).json()
    assert by_user["data"] and all(v["user_id"] == user_id for v in by_user["data"])
    assert by_user["pagination"] == {}
    assert all(not k.startswith("_") for k in by_user["data"][0])
    video_id = by_user["data"][0]["id"]
    assert get("/videos", id=video_id).json()["data"][0]["id"] == video_id
    assert get("/videos", id="1").status_code == 404
    assert get("/videos", user_id=user_id, sort="random").status_code == 400


def test_unknown_helix_path_is_404(get) -> None:  # type: ignore[no-untyped-def]
    assert get("/nope").status_code == 404


# pagination ----------------------------------------------------------------------------------

def test_streams_paginate_across_pages_to_an_empty_pagination(get, twitch: TwitchSandbox) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"first": 100, **({"after": cursor} if cursor else {})}
        body = get("/streams", **params).json()
        pages += 1
        seen += [s["id"] for s in body["data"]]
        if body["pagination"] == {}:
            break
        cursor = body["pagination"]["cursor"]
    assert pages == 3
    assert seen == [s["id"] for s in twitch.data.streams]
    assert len(seen) == len(set(seen)) == 275


def test_cursor_is_twitch_shaped_base64(get) -> None:  # type: ignore[no-untyped-def]
    cursor = get("/games/top", first=20).json()["pagination"]["cursor"]
    assert json.loads(base64.b64decode(cursor)) == {"b": None, "a": {"Offset": 20}}


def test_before_pages_backwards(get) -> None:  # type: ignore[no-untyped-def]
    first = get("/games/top", first=10).json()
    second = get("/games/top", first=10, after=first["pagination"]["cursor"]).json()
    back = get("/games/top", first=10, before=second["pagination"]["cursor"]).json()
    assert back["data"] == first["data"]


@pytest.mark.parametrize(("first", "message"), [
    ("0", 'The parameter "first" was malformed: the value must be greater than or equal to 1'),
    ("101", 'The parameter "first" was malformed: the value must be less than or equal to 100'),
    ("ten", 'The parameter "first" was malformed: the value must be an integer'),
])
def test_first_outside_1_to_100_is_400(get, first: str, message: str) -> None:  # type: ignore[no-untyped-def]
    response = get("/streams", first=first)
    assert (response.status_code, response.json()) == (
        400, {"error": "Bad Request", "status": 400, "message": message})


def test_garbage_cursor_is_400_invalid_cursor(get) -> None:  # type: ignore[no-untyped-def]
    response = get("/games/top", after="a-non-cursor-string")
    assert (response.status_code, response.json()["message"]) == (400, "Invalid cursor.")


# rate limit ----------------------------------------------------------------------------------

def test_every_helix_response_has_rate_limit_headers(get, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    for response, remaining in ((get("/users", login="twitchdev"), "799"),
                                (get("/users"), "798")):
        assert response.headers["Ratelimit-Limit"] == "800"
        assert response.headers["Ratelimit-Remaining"] == remaining
        assert int(response.headers["Ratelimit-Reset"]) >= clock.now


def test_empty_bucket_is_429_until_reset(clock: FakeClock) -> None:
    sandbox = TwitchSandbox(rate_limit=3, clock=clock)
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        headers = helix_headers(twitch_token(c))
        url = f"{HELIX}/users?login=twitchdev"
        statuses = [c.get(url, headers=headers).status_code for _ in range(3)]
        limited = c.get(url, headers=headers)
        assert statuses == [200, 200, 200]
        assert limited.status_code == 429
        assert limited.json()["error"] == "Too Many Requests"
        assert limited.json()["status"] == 429
        assert limited.headers["Ratelimit-Remaining"] == "0"
        reset = int(limited.headers["Ratelimit-Reset"])
        assert clock.now < reset <= clock.now + 60
        clock.now = reset
        after = c.get(url, headers=headers)
        assert after.status_code == 200
        assert after.headers["Ratelimit-Remaining"] == "2"


def test_buckets_are_per_client_id(clock: FakeClock) -> None:
    other = ("o" * 30, "p" * 30)
    sandbox = TwitchSandbox(rate_limit=1, clock=clock, clients={
        TWITCH["client_id"]: TWITCH["client_secret"], other[0]: other[1]})
    with httpx.Client(transport=SandboxTransport(sandbox)) as c:
        first = helix_headers(twitch_token(c))
        second_token = c.post("https://id.twitch.tv/oauth2/token", data={
            "client_id": other[0], "client_secret": other[1],
            "grant_type": "client_credentials"}).json()["access_token"]
        second = helix_headers(second_token, other[0])
        url = f"{HELIX}/users?login=twitchdev"
        assert [c.get(url, headers=h).status_code for h in (first, first, second)] == [
            200, 429, 200]

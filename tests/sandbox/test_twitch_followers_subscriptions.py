"""Get Channel Followers and Get Broadcaster Subscriptions on the Twitch emulator, called
through the runtime with user tokens from the real consent flow (begin, the emulator's
consent page, complete), in-process and over a loopback SandboxServer.

https://dev.twitch.tv/docs/api/reference/#get-channel-followers
https://dev.twitch.tv/docs/api/reference/#get-broadcaster-subscriptions
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import (
    APIError,
    MissingScopesError,
    Runtime,
    UnauthorizedError,
    call_operation_sync,
)
from connector_sdk.sandbox import SandboxServer

pytestmark = pytest.mark.timeout(60)

CALLBACK = "http://127.0.0.1:8765/oauth2/callback"
ME = "141981764"  # TwitchDev, who approves on the emulator's consent page
FOLLOWERS = "https://api.twitch.tv/helix/channels/followers"
SUBSCRIPTIONS = "https://api.twitch.tv/helix/subscriptions"


@dataclass
class Env:
    runtime: Runtime
    twitch: TwitchSandbox

    def connect(self, *scopes: str) -> None:
        """Authentication 'viewer': a user token with ``scopes``, by the consent flow."""
        begun = self.runtime.begin_authorization("twitch", "viewer", self.twitch.parameters(),
                                                 scopes=list(scopes), redirect_url=CALLBACK)
        self.runtime.complete_authorization(self.twitch.approve(begun.url))

    def call(self, operation: str, values: dict[str, Any]) -> Any:
        # the stored authentication itself: in sandbox mode a name resolves to a throwaway
        # app authentication (Runtime.resolve_authentication)
        return call_operation_sync(self.runtime, f"twitch.{operation}",
                                   self.runtime.get_authentication("viewer"), values)

    def get(self, url: str, **params: Any) -> httpx.Response:
        """A Helix request as the user, past the runtime's own scope check."""
        with self.runtime.client("viewer") as client:
            return client.get(url, params=params)

    def refusal(self, url: str, authentication: Any = "viewer", **params: Any) -> str:
        """Helix's 401 message for a request the emulator refuses: the client retries once
        with a new token (a refresh for a user token) and raises on the second 401."""
        path = httpx.URL(url).path
        before = self.requests(path)
        with self.runtime.client(authentication) as client, \
                pytest.raises(UnauthorizedError) as caught:
            client.get(url, params=params)
        assert self.requests(path) == before + 2   # answered by Helix, twice
        assert caught.value.status == 401 and caught.value.provider_message
        return caught.value.provider_message

    def requests(self, path: str) -> int:
        return self.twitch.requests_by_path.get(path, 0)


@pytest.fixture(params=["in-process", "loopback"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    if request.param == "in-process":
        runtime = Runtime(sandbox=True, home=tmp_path)
        emulator = runtime.emulator("twitch")
        assert isinstance(emulator, TwitchSandbox)
        yield Env(runtime, emulator)
        runtime.close()
        return
    twitch = TwitchSandbox()
    with SandboxServer(twitch) as server:
        runtime = Runtime(sandbox_url=server.url, home=tmp_path, allow_loopback=True)
        yield Env(runtime, twitch)
        runtime.close()


def _helix_message(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error", "status", "message"}, body
    assert body["status"] == response.status_code
    return str(body["message"])


# -- Get Channel Followers ---------------------------------------------------------------------


def test_the_broadcaster_reads_every_follower_newest_first_page_by_page(env: Env) -> None:
    env.connect("moderator:read:followers")
    followers = env.call("get_channel_followers", {"broadcaster_id": ME, "first": 7})["data"]
    expected = env.twitch.data.followers[ME]
    assert len(expected) == 30
    assert [(f["user_id"], f["followed_at"]) for f in followers] == expected
    assert [f["followed_at"] for f in followers] == sorted(
        (f["followed_at"] for f in followers), reverse=True)
    assert env.requests("/helix/channels/followers") == 5   # 30 followers, 7 a page
    someone = env.twitch.data.user_by_id[followers[0]["user_id"]]
    assert followers[0]["user_login"] == someone["login"]
    assert followers[0]["user_name"] == someone["display_name"]
    # the same follow graph as Get Followed Channels: each follower follows TwitchDev
    follows = {b for b, _ in env.twitch.data.follows(followers[0]["user_id"])}
    assert ME in follows


def test_the_first_page_carries_the_total_and_a_cursor_the_last_none(env: Env) -> None:
    env.connect("moderator:read:followers")
    first = env.get(FOLLOWERS, broadcaster_id=ME, first=20)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["total"] == 30 and len(body["data"]) == 20
    last = env.get(FOLLOWERS, broadcaster_id=ME, after=body["pagination"]["cursor"])
    assert last.json()["total"] == 30
    assert len(last.json()["data"]) == 10 and last.json()["pagination"] == {}
    ids = [f["user_id"] for f in body["data"] + last.json()["data"]]
    assert len(set(ids)) == 30


def test_a_moderator_reads_the_followers_of_a_channel_they_moderate(env: Env) -> None:
    env.connect("moderator:read:followers")
    channel = env.twitch.data.moderated_channels(ME)[0]
    followers = env.call("get_channel_followers", {"broadcaster_id": channel})["data"]
    assert [f["user_id"] for f in followers] == [
        user for user, _ in env.twitch.data.followers[channel]]
    assert followers


def test_another_channel_shows_only_its_total(env: Env) -> None:
    env.connect("moderator:read:followers")
    moderated = set(env.twitch.data.moderated_channels(ME))
    channel = next(c["broadcaster_id"] for c in env.twitch.data.channels
                   if c["broadcaster_id"] not in moderated | {ME})
    answer = env.get(FOLLOWERS, broadcaster_id=channel)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"total": len(env.twitch.data.followers[channel]), "data": [],
                             "pagination": {}}
    assert env.call("get_channel_followers", {"broadcaster_id": channel}) == {"data": []}
    refused = env.refusal(FOLLOWERS, broadcaster_id=channel, user_id=ME)
    assert "must be a moderator for the specified broadcaster" in refused


def test_asking_whether_a_user_follows_answers_that_user_only(env: Env) -> None:
    env.connect("moderator:read:followers")
    follower = env.twitch.data.followers[ME][3][0]
    yes = env.call("get_channel_followers", {"broadcaster_id": ME, "user_id": follower})
    assert [f["user_id"] for f in yes["data"]] == [follower]
    stranger = next(u["id"] for u in env.twitch.data.users
                    if u["id"] not in {f for f, _ in env.twitch.data.followers[ME]} | {ME})
    no = env.get(FOLLOWERS, broadcaster_id=ME, user_id=stranger)
    assert no.json() == {"total": 30, "data": [], "pagination": {}}


def test_without_the_scope_helix_gives_the_total_and_refuses_user_id(env: Env) -> None:
    env.connect("user:read:email")
    total_only = env.get(FOLLOWERS, broadcaster_id=ME)
    assert total_only.status_code == 200, total_only.text
    assert total_only.json() == {"total": 30, "data": [], "pagination": {}}
    follower = env.twitch.data.followers[ME][0][0]
    refused = env.refusal(FOLLOWERS, broadcaster_id=ME, user_id=follower)
    assert refused == "Missing scope: moderator:read:followers"
    before = env.requests("/helix/channels/followers")
    with pytest.raises(MissingScopesError) as caught:  # the runtime refuses before Helix
        env.call("get_channel_followers", {"broadcaster_id": ME})
    assert caught.value.missing == ("moderator:read:followers",)
    assert env.requests("/helix/channels/followers") == before


def test_an_app_token_gets_only_the_total(env: Env) -> None:
    auth = env.runtime.authentication("twitch", env.twitch.parameters(), name="app")
    with env.runtime.client(auth) as client:
        answer = client.get(FOLLOWERS, params={"broadcaster_id": ME})
    assert answer.json() == {"total": 30, "data": [], "pagination": {}}
    assert env.refusal(FOLLOWERS, auth, broadcaster_id=ME, user_id=ME) == \
        "Missing User OAUTH Token"


def test_followers_need_a_known_broadcaster_id(env: Env) -> None:
    env.connect("moderator:read:followers")
    missing = env.get(FOLLOWERS)
    assert missing.status_code == 400
    assert _helix_message(missing) == 'Missing required parameter "broadcaster_id"'
    unknown = env.get(FOLLOWERS, broadcaster_id="1")
    assert unknown.status_code == 400
    assert _helix_message(unknown) == "The broadcaster_id query parameter is not valid."


# -- Get Broadcaster Subscriptions -------------------------------------------------------------


def test_the_broadcaster_reads_every_subscription_page_by_page(env: Env) -> None:
    env.connect("channel:read:subscriptions")
    rows = env.call("get_broadcaster_subscriptions", {"broadcaster_id": ME, "first": 10})["data"]
    expected = env.twitch.data.subscriptions(ME)
    assert len(expected) == 25
    assert [(r["user_id"], r["tier"], r["gifter_id"] or None) for r in rows] == expected
    assert env.requests("/helix/subscriptions") == 3   # 25 subscriptions, 10 a page
    assert {r["broadcaster_login"] for r in rows} == {"twitchdev"}
    for row in rows:
        assert row["is_gift"] == bool(row["gifter_id"])
        assert bool(row["gifter_login"]) == row["is_gift"] == bool(row["gifter_name"])
        assert row["plan_name"].startswith("Channel Subscription (twitchdev)")
        assert row["user_login"] == env.twitch.data.user_by_id[row["user_id"]]["login"]
    assert any(r["is_gift"] for r in rows) and not all(r["is_gift"] for r in rows)


def test_a_subscriptions_page_counts_total_and_points(env: Env) -> None:
    env.connect("channel:read:subscriptions")
    page = env.get(SUBSCRIPTIONS, broadcaster_id=ME)
    assert page.status_code == 200, page.text
    body = page.json()
    tiers = [tier for _, tier, _ in env.twitch.data.subscriptions(ME)]
    assert body["total"] == 25 and len(body["data"]) == 20 and body["pagination"]["cursor"]
    assert body["points"] == tiers.count("1000") + 2 * tiers.count("2000") + \
        6 * tiers.count("3000")


def test_subscriptions_narrowed_to_some_users(env: Env) -> None:
    env.connect("channel:read:subscriptions")
    subscribers = [user for user, _, _ in env.twitch.data.subscriptions(ME)]
    wanted = [subscribers[4], subscribers[17], "1"]
    rows = env.call("get_broadcaster_subscriptions", {"broadcaster_id": ME, "user_id": wanted})
    assert sorted(r["user_id"] for r in rows["data"]) == sorted(wanted[:2])


def test_another_broadcasters_subscriptions_are_refused(env: Env) -> None:
    env.connect("channel:read:subscriptions")
    other = env.twitch.data.moderated_channels(ME)[0]   # even a channel the user moderates
    assert env.refusal(SUBSCRIPTIONS, broadcaster_id=other) == (
        "The ID in broadcaster_id must match the user ID found in the request's OAuth token.")
    with pytest.raises(APIError) as caught:   # the operation reports Helix's refusal
        env.call("get_broadcaster_subscriptions", {"broadcaster_id": other})
    assert caught.value.status == 401 and "must match the user ID" in str(caught.value)


def test_subscriptions_without_the_scope_are_refused(env: Env) -> None:
    env.connect("user:read:email", "moderator:read:followers")
    assert env.refusal(SUBSCRIPTIONS, broadcaster_id=ME) == \
        "Missing scope: channel:read:subscriptions"
    before = env.requests("/helix/subscriptions")
    with pytest.raises(MissingScopesError) as caught:
        env.call("get_broadcaster_subscriptions", {"broadcaster_id": ME})
    assert caught.value.missing == ("channel:read:subscriptions",)
    assert env.requests("/helix/subscriptions") == before
    auth = env.runtime.authentication("twitch", env.twitch.parameters(), name="app")
    assert env.refusal(SUBSCRIPTIONS, auth, broadcaster_id=ME) == "Missing User OAUTH Token"


def test_subscriptions_need_broadcaster_id(env: Env) -> None:
    env.connect("channel:read:subscriptions")
    missing = env.get(SUBSCRIPTIONS)
    assert missing.status_code == 400
    assert _helix_message(missing) == 'Missing required parameter "broadcaster_id"'

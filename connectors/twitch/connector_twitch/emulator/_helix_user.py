"""Helix endpoints whose answer depends on who the token acts for (user access tokens).

A user access token carries a user id and the scopes that user granted
(https://dev.twitch.tv/docs/authentication/scopes/). ``ROUTES`` lists, per path, the
endpoint and what it needs: ``user_token`` (an app token is refused with 401
``Missing User OAUTH Token``) and ``scope`` (a user token without it gets 401
``Missing scope: <scope>``, Helix's wording for both, observed live; the reference lists both
under 401). The endpoints are pure functions of the data, the query and the ``Caller``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from . import _helix
from ._data import TwitchData
from ._helix import HelixError

__all__ = ["ROUTES", "Caller", "UserRoute", "followed_channels", "refusal"]

SCOPE_FOLLOWERS = "moderator:read:followers"

Query = httpx.QueryParams
Body = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    """Who a Helix request acts for: ``user_id`` None for an app access token."""

    user_id: str | None = None
    scopes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class UserRoute:
    """A Helix endpoint and the token it needs."""

    endpoint: Callable[[TwitchData, Query, Caller], Body]
    user_token: bool = False
    scope: str | None = None


def refusal(route: UserRoute, caller: Caller) -> str | None:
    """The 401 message when ``caller``'s token may not call ``route``, else None."""
    if route.user_token and caller.user_id is None:
        return "Missing User OAUTH Token"
    if route.scope is not None and route.scope not in caller.scopes:
        return f"Missing scope: {route.scope}"
    return None


def get_users(data: TwitchData, query: Query, caller: Caller) -> Body:
    """Get Users (https://dev.twitch.tv/docs/api/reference/#get-users): without ``id`` or
    ``login`` a user token gets its own user; ``email`` only for the token's own user and
    only with ``user:read:email``."""
    if caller.user_id is not None and not query.get_list("id") and not query.get_list("login"):
        users = [data.user_by_id[caller.user_id]] if caller.user_id in data.user_by_id else []
        body: Body = {"data": [_helix._public(u) for u in users]}
    else:
        body = _helix.get_users(data, query)
    if "user:read:email" in caller.scopes:
        for user in body["data"]:
            if user["id"] == caller.user_id:
                user["email"] = f"{user['login']}@example.com"
    return body


def followed_channels(data: TwitchData, user_id: str) -> list[dict[str, Any]]:
    """The broadcasters ``user_id`` follows, most recent first: a pure function of the
    data and the user."""
    return [{"broadcaster_id": broadcaster,
             "broadcaster_login": data.user_by_id[broadcaster]["login"],
             "broadcaster_name": data.user_by_id[broadcaster]["display_name"],
             "followed_at": followed_at}
            for broadcaster, followed_at in data.follows(user_id)]


def get_followed_channels(data: TwitchData, query: Query, caller: Caller) -> Body:
    """Get Followed Channels
    (https://dev.twitch.tv/docs/api/reference/#get-followed-channels): ``user_id`` must be
    the token's user; ``broadcaster_id`` narrows to one broadcaster."""
    user_id = str(query.get("user_id", ""))
    if not user_id:
        raise HelixError(400, 'Missing required parameter "user_id"')
    if user_id != caller.user_id:
        raise HelixError(401, "The ID in the user_id query parameter must match the user ID "
                         "in the access token.")
    follows = followed_channels(data, user_id)
    broadcaster = query.get("broadcaster_id")
    if broadcaster:
        follows = [f for f in follows if f["broadcaster_id"] == broadcaster]
    return {"total": len(follows), **_helix._page(follows, query, backward=False)}


def _broadcaster(data: TwitchData, query: Query) -> str:
    broadcaster = _helix._required(query, "broadcaster_id")
    if broadcaster not in data.user_by_id:
        raise HelixError(400, "The broadcaster_id query parameter is not valid.")
    return broadcaster


def get_channel_followers(data: TwitchData, query: Query, caller: Caller) -> Body:
    """Get Channel Followers
    (https://dev.twitch.tv/docs/api/reference/#get-channel-followers), newest first.

    The list needs a user token with ``moderator:read:followers`` whose user is the
    broadcaster or one of their moderators (``TwitchData.moderated_channels``); any other
    token, an app token included, gets only ``total`` with an empty ``data``, as documented.
    ``user_id`` (does this user follow?) is refused with 401 instead: ``Missing scope:`` without
    the scope, the documented broadcaster-or-moderator message otherwise (the wording of the
    app-token case is the sandbox's: ``Missing User OAUTH Token``)."""
    broadcaster = _broadcaster(data, query)
    followers = data.followers.get(broadcaster, [])
    allowed = (caller.user_id is not None and SCOPE_FOLLOWERS in caller.scopes
               and (caller.user_id == broadcaster
                    or broadcaster in data.moderated_channels(caller.user_id)))
    user_id = query.get("user_id")
    if user_id and not allowed:
        if caller.user_id is None:
            raise HelixError(401, "Missing User OAUTH Token")
        if SCOPE_FOLLOWERS not in caller.scopes:
            raise HelixError(401, f"Missing scope: {SCOPE_FOLLOWERS}")
        raise HelixError(401, "The ID in the broadcaster_id query parameter must match the user "
                         "ID in the access token or the user must be a moderator for the "
                         "specified broadcaster.")
    if not allowed:
        _helix._first(query)
        return {"total": len(followers), "data": [], "pagination": {}}
    if user_id:
        followers = [f for f in followers if f[0] == user_id]
    rows = [{"user_id": follower, "user_login": data.user_by_id[follower]["login"],
             "user_name": data.user_by_id[follower]["display_name"], "followed_at": followed_at}
            for follower, followed_at in followers]
    return {"total": len(data.followers.get(broadcaster, [])),
            **_helix._page(rows, query, backward=False)}


_PLAN_SUFFIX = {"1000": "", "2000": ": $9.99 Sub", "3000": ": $24.99 Sub"}
_TIER_POINTS = {"1000": 1, "2000": 2, "3000": 6}


def get_broadcaster_subscriptions(data: TwitchData, query: Query, caller: Caller) -> Body:
    """Get Broadcaster Subscriptions
    (https://dev.twitch.tv/docs/api/reference/#get-broadcaster-subscriptions): the
    broadcaster must be the token's user (401 otherwise); ``user_id`` (up to 100) narrows to
    those subscribers; ``total`` and ``points`` (tier 1 is 1 point, tier 2 is 2, tier 3 is 6)
    count every subscription of the broadcaster."""
    broadcaster = _helix._required(query, "broadcaster_id")
    if broadcaster != caller.user_id:
        raise HelixError(401, "The ID in broadcaster_id must match the user ID found in the "
                         "request's OAuth token.")
    wanted = set(_helix._many(query, "user_id"))
    subscriptions = data.subscriptions(broadcaster)
    owner = data.user_by_id[broadcaster]
    rows = []
    for user_id, tier, gifter in subscriptions:
        if wanted and user_id not in wanted:
            continue
        user, giver = data.user_by_id[user_id], data.user_by_id.get(gifter or "")
        rows.append({
            "broadcaster_id": broadcaster, "broadcaster_login": owner["login"],
            "broadcaster_name": owner["display_name"],
            "gifter_id": gifter or "", "gifter_login": giver["login"] if giver else "",
            "gifter_name": giver["display_name"] if giver else "", "is_gift": giver is not None,
            "plan_name": f"Channel Subscription ({owner['login']}){_PLAN_SUFFIX[tier]}",
            "tier": tier, "user_id": user_id, "user_name": user["display_name"],
            "user_login": user["login"],
        })
    return {**_helix._page(rows, query), "total": len(subscriptions),
            "points": sum(_TIER_POINTS[tier] for _, tier, _ in subscriptions)}


ROUTES: dict[str, UserRoute] = {
    "/helix/users": UserRoute(get_users),
    "/helix/channels/followed": UserRoute(get_followed_channels, user_token=True,
                                          scope="user:read:follows"),
    # The token decides between the list and only its total, in the endpoint.
    "/helix/channels/followers": UserRoute(get_channel_followers),
    "/helix/subscriptions": UserRoute(get_broadcaster_subscriptions, user_token=True,
                                      scope="channel:read:subscriptions"),
}

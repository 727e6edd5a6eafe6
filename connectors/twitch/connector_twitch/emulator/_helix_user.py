"""Helix endpoints whose answer depends on who the token acts for (user access tokens).

A user access token carries a user id and the scopes that user granted
(https://dev.twitch.tv/docs/authentication/scopes/). ``ROUTES`` lists, per path, the
endpoint and what it needs: ``user_token`` (an app token is refused with 401
``Missing User OAUTH Token``) and ``scope`` (a user token without it gets 401
``Missing scope: <scope>``, Helix's wording for both, observed live; the reference lists both
under 401). The endpoints are pure functions of the data, the query and the ``Caller``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from . import _helix
from ._data import DATA_EPOCH, TwitchData
from ._helix import HelixError

__all__ = ["ROUTES", "Caller", "UserRoute", "followed_channels", "refusal"]

Query = httpx.QueryParams
Body = dict[str, Any]
FOLLOWS_PER_USER = 30


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
    rng = random.Random(f"follows:{user_id}")  # noqa: S311 - seeded data, not secrets
    channels = [c for c in data.channels if c["broadcaster_id"] != user_id]
    chosen = rng.sample(channels, min(FOLLOWS_PER_USER, len(channels)))
    ages = sorted(rng.sample(range(1, 2000), len(chosen)))
    return [{"broadcaster_id": c["broadcaster_id"],
             "broadcaster_login": data.user_by_id[c["broadcaster_id"]]["login"],
             "broadcaster_name": data.user_by_id[c["broadcaster_id"]]["display_name"],
             "followed_at": (DATA_EPOCH - timedelta(hours=age)).strftime("%Y-%m-%dT%H:%M:%SZ")}
            for c, age in zip(chosen, ages, strict=True)]


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


ROUTES: dict[str, UserRoute] = {
    "/helix/users": UserRoute(get_users),
    "/helix/channels/followed": UserRoute(get_followed_channels, user_token=True,
                                          scope="user:read:follows"),
}

"""Helix endpoints of the Twitch sandbox: pure functions of the data and the query string.

Each endpoint takes the seeded ``TwitchData`` and the request's query parameters and returns
the JSON body, or raises ``HelixError`` with the status and message Twitch documents (see
https://dev.twitch.tv/docs/api/reference). Authentication and rate limits are the caller's
(``_emulator.py``) job, so these functions can be read against the reference one by one.

Pagination follows the API guide (https://dev.twitch.tv/docs/api/guide/#pagination):
``first`` 1-100 (default 20, 400 outside), an opaque base64 cursor in ``pagination.cursor``
for ``after`` (and ``before`` where the endpoint lists it), and ``"pagination": {}`` on the
last page. Cursors are base64 JSON like Twitch's own (``{"b":null,"a":{"Offset":20}}``);
clients must treat them as opaque.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx

from ._data import DATA_EPOCH, TwitchData

__all__ = ["ENDPOINTS", "HelixError"]

Query = httpx.QueryParams
Body = dict[str, Any]
MAX_IDS = 100


class HelixError(Exception):
    """A Helix error answer: HTTP status and the ``message`` of the JSON envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """The item without the sandbox's private bookkeeping keys (those starting with ``_``)."""
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _encode_cursor(start: int, end: int) -> str:
    payload = {"b": {"Offset": start} if start else None, "a": {"Offset": end}}
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str, key: str) -> int:
    try:
        payload = json.loads(base64.b64decode(cursor, validate=True))
        offset = payload[key]["Offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise HelixError(400, "Invalid cursor.") from None
    if not isinstance(offset, int) or offset < 0:
        raise HelixError(400, "Invalid cursor.")
    return offset


def _first(query: Query) -> int:
    raw = query.get("first")
    if raw is None:
        return 20
    try:
        value = int(raw)
    except ValueError:
        raise HelixError(
            400, 'The parameter "first" was malformed: the value must be an integer'
        ) from None
    if value < 1:
        raise HelixError(
            400, 'The parameter "first" was malformed: the value must be greater than or equal to 1'
        )
    if value > 100:
        raise HelixError(
            400, 'The parameter "first" was malformed: the value must be less than or equal to 100'
        )
    return value


def _page(items: Sequence[dict[str, Any]], query: Query, *, backward: bool = True) -> Body:
    """One page of ``items`` per ``first``/``after``/``before``, with Twitch's pagination."""
    first = _first(query)
    after = query.get("after")
    before = query.get("before") if backward else None
    if after and before:
        raise HelixError(400, "The after and before query parameters are mutually exclusive.")
    if after:
        start = _decode_cursor(after, "a")
    elif before:
        start = max(0, _decode_cursor(before, "b") - first)
    else:
        start = 0
    end = min(len(items), start + first)
    more = end < len(items) or (bool(before) and start > 0)
    pagination = {"cursor": _encode_cursor(start, end)} if more else {}
    return {"data": [_public(i) for i in items[start:end]], "pagination": pagination}


def _many(query: Query, name: str) -> list[str]:
    values = [v for v in query.get_list(name) if v != ""]
    if len(values) > MAX_IDS:
        raise HelixError(
            400, f"The number of {name} query parameters exceeds the maximum allowed ({MAX_IDS})."
        )
    return values


def _choice(query: Query, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = str(query.get(name, default))
    if value not in allowed:
        raise HelixError(400, f"The value in the {name} query parameter is not valid.")
    return value


def get_users(data: TwitchData, query: Query) -> Body:
    ids, logins = query.get_list("id"), [v.lower() for v in query.get_list("login")]
    if not ids and not logins:
        # What Helix answers an app access token without id or login.
        raise HelixError(400, "Must provide an ID, Login or OAuth Token.")
    if len(ids) + len(logins) > MAX_IDS:
        raise HelixError(
            400,
            "The request exceeded the maximum allowed number of id and/or login query parameters.",
        )
    wanted_ids, wanted_logins = set(ids), set(logins)
    found = [u for u in data.users if u["id"] in wanted_ids or u["login"] in wanted_logins]
    return {"data": [_public(u) for u in found]}


def get_streams(data: TwitchData, query: Query) -> Body:
    user_ids = set(_many(query, "user_id"))
    user_logins = {v.lower() for v in _many(query, "user_login")}
    game_ids = set(_many(query, "game_id"))
    languages = set(_many(query, "language"))
    _choice(query, "type", ("all", "live"), "all")  # every seeded stream is live
    streams = [
        s for s in data.streams
        if ((not user_ids and not user_logins)
            or s["user_id"] in user_ids or s["user_login"] in user_logins)
        and (not game_ids or s["game_id"] in game_ids)
        and (not languages or s["language"] in languages)
    ]
    return _page(streams, query)


def get_top_games(data: TwitchData, query: Query) -> Body:
    return _page(data.top_games, query)


def get_games(data: TwitchData, query: Query) -> Body:
    ids, names, igdb = query.get_list("id"), query.get_list("name"), query.get_list("igdb_id")
    if not (ids or names or igdb):
        raise HelixError(400, "The request must specify the id or name or igdb_id query parameter.")
    if len(ids) + len(names) + len(igdb) > MAX_IDS:
        raise HelixError(
            400, "The combined number of game IDs and game names must not exceed 100."
        )
    found = [
        g for g in data.games
        if g["id"] in ids or g["name"] in names or (g["igdb_id"] and g["igdb_id"] in igdb)
    ]
    return {"data": [_public(g) for g in found]}


def _required(query: Query, name: str) -> str:
    value = str(query.get(name, ""))
    if not value:
        raise HelixError(400, f"Missing required parameter \"{name}\"")
    return value


def search_categories(data: TwitchData, query: Query) -> Body:
    words = _required(query, "query").lower().split()
    found = [
        {"id": g["id"], "name": g["name"],
         "box_art_url": g["box_art_url"].replace("{width}x{height}", "52x72")}
        for g in data.games
        if all(w in g["name"].lower() for w in words)
    ]
    return _page(found, query, backward=False)


def _flag(query: Query, name: str) -> bool:
    value = str(query.get(name, "false")).lower()
    if value not in ("true", "false"):
        raise HelixError(400, f"The value in the {name} query parameter is not valid.")
    return value == "true"


def search_channels(data: TwitchData, query: Query) -> Body:
    text = _required(query, "query").lower()
    live_only = _flag(query, "live_only")
    squashed, underscored = text.replace(" ", ""), text.replace(" ", "_")
    live = {s["user_id"]: s for s in data.streams}
    found = []
    for channel in data.channels:
        user = data.user_by_id[channel["broadcaster_id"]]
        stream = live.get(channel["broadcaster_id"])
        if live_only:
            if stream is None:
                continue
            names = (user["display_name"].lower(), channel["game_name"].lower())
        else:
            names = (user["login"], user["login"])
        if not any(n.startswith((squashed, underscored, text)) for n in names):
            continue
        found.append({
            "broadcaster_language": channel["broadcaster_language"],
            "broadcaster_login": user["login"],
            "display_name": user["display_name"],
            "game_id": channel["game_id"],
            "game_name": channel["game_name"],
            "id": user["id"],
            "is_live": stream is not None,
            "tag_ids": [],
            "tags": channel["tags"],
            "thumbnail_url": user["profile_image_url"],
            "title": stream["title"] if stream else channel["title"],
            "started_at": stream["started_at"] if stream else "",
        })
    return _page(found, query, backward=False)


def get_channels(data: TwitchData, query: Query) -> Body:
    ids = _many(query, "broadcaster_id")
    if not ids:
        raise HelixError(400, "Missing required parameter \"broadcaster_id\"")
    by_id = {c["broadcaster_id"]: c for c in data.channels}
    seen: set[str] = set()
    found = []
    for broadcaster in ids:
        if broadcaster in by_id and broadcaster not in seen:
            seen.add(broadcaster)
            found.append(_public(by_id[broadcaster]))
    return {"data": found}


_PERIODS = {"all": None, "day": timedelta(days=1), "week": timedelta(days=7),
            "month": timedelta(days=30)}


def get_videos(data: TwitchData, query: Query) -> Body:
    ids = query.get_list("id")
    user_id, game_id = query.get("user_id"), query.get("game_id")
    given = sum(1 for v in (ids, user_id, game_id) if v)
    if given == 0:
        raise HelixError(
            400, "The request must specify either the id or user_id or game_id query parameter."
        )
    if given > 1:
        raise HelixError(
            400,
            "The id, user_id, and game_id query parameters are mutually exclusive; "
            "you must specify only one of them.",
        )
    if ids:
        if len(ids) > MAX_IDS:
            raise HelixError(400, "The value in the id query parameter is not valid.")
        found = [v for v in data.videos if v["id"] in ids]
        if not found:
            raise HelixError(404, "The ID in the id query parameter was not found.")
        return {"data": [_public(v) for v in found], "pagination": {}}
    if game_id and all(g["id"] != game_id for g in data.games):
        raise HelixError(404, "The ID in the game_id query parameter was not found.")
    kind = _choice(query, "type", ("all", "archive", "highlight", "upload"), "all")
    period = _PERIODS[_choice(query, "period", tuple(_PERIODS), "all")]
    sort = _choice(query, "sort", ("time", "trending", "views"), "time")
    language = query.get("language")
    since = (DATA_EPOCH - period).strftime("%Y-%m-%dT%H:%M:%SZ") if period else ""
    videos = [
        v for v in data.videos
        if (v["user_id"] == user_id if user_id else v["_game_id"] == game_id)
        and (kind == "all" or v["type"] == kind)
        and (not language or v["language"] == language.lower())
        and v["created_at"] >= since
    ]
    if sort != "time":  # trending is approximated by views: the data has no history
        videos.sort(key=lambda v: (-v["view_count"], v["id"]))
    if game_id:
        videos = videos[:500]
    return _page(videos, query)


Endpoint = Callable[[TwitchData, Query], Body]
ENDPOINTS: dict[str, Endpoint] = {
    "/helix/users": get_users,
    "/helix/streams": get_streams,
    "/helix/games/top": get_top_games,
    "/helix/games": get_games,
    "/helix/search/categories": search_categories,
    "/helix/search/channels": search_channels,
    "/helix/channels": get_channels,
    "/helix/videos": get_videos,
}

"""Seeded, deterministic data for the Twitch emulator.

Everything here is a pure function of the seed: the same seed gives the same users, streams,
games and videos, byte for byte, on every run and machine (``random.Random`` with an explicit
seed, no clock, no hash randomisation). Timestamps are relative to ``DATA_EPOCH``, not to the
wall clock, for the same reason.

Sizes are chosen so that pagination matters: 275 live streams (14 pages of 20), 120 games.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["DATA_EPOCH", "LIVE_STREAMS", "TwitchData", "twitch_data"]

DATA_EPOCH = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
USERS = 400
LIVE_STREAMS = 275
GAMES = 120
VIDEO_USERS = 150
FOLLOWS_PER_USER = 30
MODERATED_PER_USER = 3
SUBSCRIBERS_BASE = 25

_ADJECTIVES = (
    "swift", "lazy", "brave", "quiet", "lucky", "fuzzy", "cosmic", "pixel", "retro", "silent",
    "crimson", "golden", "frosty", "mighty", "sneaky", "happy", "grumpy", "electric", "lunar",
    "noble", "rapid", "shadow", "sunny", "wild",
)
_NOUNS = (
    "otter", "falcon", "panda", "wizard", "knight", "gamer", "ninja", "pirate", "robot",
    "dragon", "fox", "badger", "comet", "golem", "raven", "tiger", "yeti", "koala", "viking",
    "samurai", "mage", "bard", "ranger", "sprite",
)
_LANGUAGES = (("en", 10), ("es", 3), ("de", 2), ("fr", 2), ("pt", 2), ("ja", 1), ("ko", 1),
              ("ru", 1), ("it", 1), ("other", 1))
_LANGUAGE_TAGS = {"en": "English", "es": "Español", "de": "Deutsch", "fr": "Français",
                  "pt": "Português", "ja": "日本語", "ko": "한국어", "ru": "Русский",
                  "it": "Italiano", "other": "Other"}
_TAGS = ("Chill", "Competitive", "Speedrun", "FirstPlaythrough", "Cozy", "Funny", "PvP",
         "Educational", "NoBackseating", "Challenge")
# Real Twitch category ids and IGDB ids, so the data looks like what clients will see.
_KNOWN_GAMES = (
    ("509658", "Just Chatting", ""),
    ("33214", "Fortnite", "1905"),
    ("32982", "Grand Theft Auto V", "1020"),
    ("21779", "League of Legends", "115"),
    ("29595", "Dota 2", "2963"),
    ("493057", "PUBG: BATTLEGROUNDS", "27789"),
    ("27471", "Minecraft", "121"),
    ("516575", "VALORANT", "126459"),
    ("32399", "Counter-Strike", "241"),
    ("509670", "Science & Technology", ""),
    ("1469308723", "Software and Game Development", ""),
    ("26936", "Music", ""),
    ("506442", "DOOM Eternal", "103298"),
    ("494131", "Little Nightmares", "26710"),
    ("512710", "Call of Duty: Warzone", "131800"),
    ("511224", "Apex Legends", "114795"),
    ("18122", "World of Warcraft", "123"),
    ("509660", "Art", ""),
    ("490100", "Lost Ark", "17269"),
    ("138585", "Hearthstone", "1279"),
)
_GAME_WORDS_A = ("Star", "Iron", "Dark", "Hollow", "Crystal", "Last", "Lost", "Eternal", "Neon",
                 "Frozen", "Silent", "Ancient")
_GAME_WORDS_B = ("Kingdom", "Frontier", "Legends", "Odyssey", "Protocol", "Dungeon", "Harbor",
                 "Drift", "Siege", "Garden", "Circuit", "Voyage")
_VIDEO_TYPES = ("archive", "archive", "highlight", "upload")
_TIERS = ("1000", "1000", "1000", "1000", "1000", "1000", "2000", "3000")

_TWITCHDEV = {
    "id": "141981764",
    "login": "twitchdev",
    "display_name": "TwitchDev",
    "type": "",
    "broadcaster_type": "partner",
    "description": "Supporting third-party developers building Twitch integrations from "
    "chatbots to game integrations.",
    "profile_image_url": "https://static-cdn.jtvnw.net/jtv_user_pictures/"
    "8a6381c7-d0c0-4576-b179-38bd5ce1d6af-profile_image-300x300.png",
    "offline_image_url": "https://static-cdn.jtvnw.net/jtv_user_pictures/"
    "3f13ab61-ec78-4fe6-8481-8682cb3b0ac2-channel_offline_image-1920x1080.png",
    "view_count": 5980557,
    "created_at": "2016-12-14T20:32:28Z",
}


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class TwitchData:
    """Twitch resources, each list in the order the API returns it.

    ``streams`` by viewer count (descending), ``top_games`` by total viewers, ``users`` and
    ``channels`` in creation order, ``videos`` newest first. Follows, moderators and
    subscriptions are derived on demand from seeded generators keyed by user id.
    """

    users: list[dict[str, Any]]
    games: list[dict[str, Any]]
    top_games: list[dict[str, Any]]
    streams: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    videos: list[dict[str, Any]]
    user_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def follows(self, user_id: str) -> list[tuple[str, str]]:
        """``(broadcaster_id, followed_at)`` of the channels ``user_id`` follows, newest
        first: a pure function of the data and the user."""
        rng = random.Random(f"follows:{user_id}")  # noqa: S311 - seeded data, not secrets
        channels = [c["broadcaster_id"] for c in self.channels if c["broadcaster_id"] != user_id]
        chosen = rng.sample(channels, min(FOLLOWS_PER_USER, len(channels)))
        ages = sorted(rng.sample(range(1, 2000), len(chosen)))
        return [(broadcaster, _ts(DATA_EPOCH - timedelta(hours=age)))
                for broadcaster, age in zip(chosen, ages, strict=True)]

    @functools.cached_property
    def followers(self) -> dict[str, list[tuple[str, str]]]:
        """Broadcaster id to ``(follower_id, followed_at)``, newest first: ``follows``
        inverted, so Get Channel Followers and Get Followed Channels tell the same story.
        Built on first use (every user's follows); the data is read-only, so it stays valid."""
        inverse: dict[str, list[tuple[str, str]]] = {}
        for user in self.users:
            for broadcaster, followed_at in self.follows(user["id"]):
                inverse.setdefault(broadcaster, []).append((user["id"], followed_at))
        for followers in inverse.values():
            followers.sort(key=lambda pair: (pair[1], pair[0]), reverse=True)
        return inverse

    def subscriptions(self, broadcaster_id: str) -> list[tuple[str, str, str | None]]:
        """``(user_id, tier, gifter_id or None)`` of the users who subscribe to
        ``broadcaster_id`` (25 to 59 of them, about a quarter gifted), in a stable order."""
        rng = random.Random(f"subscriptions:{broadcaster_id}")  # noqa: S311 - seeded data
        others = [u["id"] for u in self.users if u["id"] != broadcaster_id]
        chosen = rng.sample(others, min(SUBSCRIBERS_BASE + rng.randrange(35), len(others)))
        subscriptions: list[tuple[str, str, str | None]] = []
        for user_id in chosen:
            tier = rng.choice(_TIERS)
            gifter = rng.choice([o for o in others if o != user_id]) if rng.random() < 0.25 \
                else None
            subscriptions.append((user_id, tier, gifter))
        return subscriptions

    def moderated_channels(self, user_id: str) -> list[str]:
        """The broadcaster ids whose channels ``user_id`` moderates (``MODERATED_PER_USER``
        seeded ones; Twitch's moderator lists are not emulated otherwise)."""
        rng = random.Random(f"moderates:{user_id}")  # noqa: S311 - seeded data, not secrets
        channels = [c["broadcaster_id"] for c in self.channels if c["broadcaster_id"] != user_id]
        return rng.sample(channels, min(MODERATED_PER_USER, len(channels)))


@functools.lru_cache(maxsize=8)
def twitch_data(seed: int = 0) -> TwitchData:
    """Build the Twitch data set for ``seed`` (pure: same seed, same data).

    Cached: sandboxes with the same seed share one read-only copy; do not mutate it.
    """
    rng = random.Random(f"twitch:{seed}")  # noqa: S311 - seeded data, not secrets
    languages = [code for code, weight in _LANGUAGES for _ in range(weight)]

    users: list[dict[str, Any]] = [dict(_TWITCHDEV)]
    logins = {"twitchdev"}
    ids = {"141981764"}
    while len(users) < USERS:
        login = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_NOUNS)}{rng.randrange(100)}"
        user_id = str(rng.randrange(10_000_000, 999_999_999))
        if login in logins or user_id in ids:
            continue
        logins.add(login)
        ids.add(user_id)
        display = "".join(part.capitalize() for part in login.split("_"))
        created = DATA_EPOCH - timedelta(days=rng.randrange(60, 5000), seconds=rng.randrange(86400))
        users.append({
            "id": user_id,
            "login": login,
            "display_name": display,
            "type": "",
            "broadcaster_type": rng.choice(("", "", "affiliate", "affiliate", "partner")),
            "description": f"{display} streams {rng.choice(_TAGS).lower()} content.",
            "profile_image_url": "https://static-cdn.jtvnw.net/jtv_user_pictures/"
            f"{_uuid(rng)}-profile_image-300x300.png",
            "offline_image_url": "",
            "view_count": 0,
            "created_at": _ts(created),
        })

    games: list[dict[str, Any]] = []
    for game_id, name, igdb in _KNOWN_GAMES:
        games.append({"id": game_id, "name": name, "igdb_id": igdb})
    names = {g["name"] for g in games}
    while len(games) < GAMES:
        name = f"{rng.choice(_GAME_WORDS_A)} {rng.choice(_GAME_WORDS_B)} {rng.randrange(2, 9)}"
        if name in names:
            continue
        names.add(name)
        games.append({"id": str(rng.randrange(100_000, 2_000_000_000)), "name": name,
                      "igdb_id": str(rng.randrange(1000, 300_000))})
    for game in games:
        game["box_art_url"] = (
            f"https://static-cdn.jtvnw.net/ttv-boxart/{game['id']}-{{width}}x{{height}}.jpg"
        )
    games = [{k: g[k] for k in ("id", "name", "box_art_url", "igdb_id")} for g in games]
    popular = games[:12]

    language_of = {u["id"]: rng.choice(languages) for u in users}
    language_of["141981764"] = "en"
    game_of = {u["id"]: rng.choice(popular if rng.random() < 0.7 else games) for u in users}
    game_of["141981764"] = games[10]

    live_users = users[1 : LIVE_STREAMS + 1]
    streams: list[dict[str, Any]] = []
    for user in live_users:
        language = language_of[user["id"]]
        game = game_of[user["id"]]
        streams.append({
            "id": str(rng.randrange(40_000_000_000, 49_999_999_999)),
            "user_id": user["id"],
            "user_login": user["login"],
            "user_name": user["display_name"],
            "game_id": game["id"],
            "game_name": game["name"],
            "type": "live",
            "title": f"{game['name']} with {user['display_name']} | !{rng.choice(_NOUNS)}",
            "viewer_count": int(rng.paretovariate(1.2) * 20),
            "started_at": _ts(DATA_EPOCH - timedelta(minutes=rng.randrange(5, 600))),
            "language": language,
            "thumbnail_url": "https://static-cdn.jtvnw.net/previews-ttv/"
            f"live_user_{user['login']}-{{width}}x{{height}}.jpg",
            "tag_ids": [],
            "tags": [_LANGUAGE_TAGS[language], rng.choice(_TAGS)],
            "is_mature": False,
        })
    streams.sort(key=lambda s: (-s["viewer_count"], s["id"]))

    viewers: dict[str, int] = {}
    for stream in streams:
        viewers[stream["game_id"]] = viewers.get(stream["game_id"], 0) + stream["viewer_count"]
    rank = {g["id"]: i for i, g in enumerate(games)}
    top_games = sorted(games, key=lambda g: (-viewers.get(g["id"], 0), rank[g["id"]]))

    live_ids = {s["user_id"] for s in streams}
    channels: list[dict[str, Any]] = []
    for user in users:
        game = game_of[user["id"]]
        channels.append({
            "broadcaster_id": user["id"],
            "broadcaster_login": user["login"],
            "broadcaster_name": user["display_name"],
            "broadcaster_language": language_of[user["id"]],
            "game_id": game["id"],
            "game_name": game["name"],
            "title": f"{game['name']} with {user['display_name']}",
            "delay": 0,
            "tags": [rng.choice(_TAGS)],
            "content_classification_labels": [],
            "is_branded_content": False,
        })
    for channel in channels:
        channel["_is_live"] = channel["broadcaster_id"] in live_ids

    videos: list[dict[str, Any]] = []
    for user in users[:VIDEO_USERS]:
        for _ in range(rng.randrange(0, 7)):
            kind = rng.choice(_VIDEO_TYPES)
            created = DATA_EPOCH - timedelta(hours=rng.randrange(1, 24 * 120))
            video_id = str(rng.randrange(300_000_000, 2_400_000_000))
            seconds = rng.randrange(30, 6 * 3600)
            hours, rest = divmod(seconds, 3600)
            duration = (f"{hours}h" if hours else "") + f"{rest // 60}m{rest % 60}s"
            game = game_of[user["id"]]
            videos.append({
                "id": video_id,
                "stream_id": str(rng.randrange(40_000_000_000, 49_999_999_999))
                if kind == "archive" else None,
                "user_id": user["id"],
                "user_login": user["login"],
                "user_name": user["display_name"],
                "title": f"{game['name']} {kind} #{rng.randrange(1, 400)}",
                "description": "",
                "created_at": _ts(created),
                "published_at": _ts(created + timedelta(minutes=rng.randrange(0, 90))),
                "url": f"https://www.twitch.tv/videos/{video_id}",
                "thumbnail_url": "https://static-cdn.jtvnw.net/cf_vods/d2nvs31859zcd8/"
                f"{user['login']}/{video_id}/{_uuid(rng)}/thumb/index-0000000000-"
                "%{width}x%{height}.jpg",
                "viewable": "public",
                "view_count": rng.randrange(0, 50_000),
                "language": language_of[user["id"]],
                "type": kind,
                "duration": duration,
                "muted_segments": [{"duration": 30, "offset": rng.randrange(0, seconds)}]
                if rng.random() < 0.2 else None,
                "_game_id": game["id"],
            })
    videos.sort(key=lambda v: (v["created_at"], v["id"]), reverse=True)

    return TwitchData(
        users=users,
        games=games,
        top_games=top_games,
        streams=streams,
        channels=channels,
        videos=videos,
        user_by_id={u["id"]: u for u in users},
    )

"""An access token and its timing, in a form that can cross a process boundary.

A ``Token`` is what the token manager hands out and what a token cache stores: the access
token (a ``Secret``), its normalised type, the granted scopes and its timing on the *wall
clock* (epoch seconds): ``obtained_at`` when the endpoint answered, ``expires_at`` when the
token stops being valid (``None``: no known expiry). Wall-clock times mean a token written
by one process (a shared Redis cache, say) means the same thing in another.

A wall clock can jump, so the manager never compares ``expires_at`` with the clock on the
warm path: when a token enters a manager it converts the remaining lifetime into deadlines
on its own monotonic clock once (``RefreshPolicy.deadlines``), and keeps to those.

``Token.to_dict``/``Token.from_dict`` are the one serialised form, for caches that store
tokens elsewhere. The dict holds the *clear* access token: a cache must encrypt it before it
leaves the process and must never log it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._secrets import Secret

__all__ = ["MIN_LIFETIME", "RefreshPolicy", "Token", "token_from_dict", "token_to_dict"]

#: The shortest lifetime believed (seconds): a positive ``expires_in`` below it (``0.0001``,
#: ``1e-300``) would mean one token request per API call. A token really that short-lived
#: is refused by the API with a 401, which refreshes it once.
MIN_LIFETIME = 1.0


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """How early a token is replaced, and the shortest and longest lifetimes believed.

    The refresh margin is ``min(margin_seconds, margin_fraction * lifetime)``: a 24 h Shopify
    token is replaced 60 s early, a 30 s token 3 s early (never a refresh loop for short
    lifetimes). ``max_lifetime`` clamps absurd ``expires_in`` values (``1e9``) so that a token
    is at least re-fetched now and then; a revoked one is caught by the API's 401 anyway.
    ``min_lifetime`` is the floor for tiny positive ones.
    """

    margin_seconds: float = 60.0
    margin_fraction: float = 0.1
    max_lifetime: float = 30 * 24 * 3600.0
    min_lifetime: float = MIN_LIFETIME

    def margin(self, lifetime: float) -> float:
        """Seconds before expiry at which a token of ``lifetime`` seconds counts as stale."""
        return max(0.0, min(self.margin_seconds, self.margin_fraction * lifetime))

    def deadlines(self, token: Token, *, now: float, wall_now: float) -> tuple[float, float]:
        """``(refresh_at, expires_at)`` of ``token`` on the monotonic clock that reads ``now``
        while the wall clock reads ``wall_now``; ``inf`` when the token has no expiry."""
        if token.expires_at is None:
            return math.inf, math.inf
        expires = now + (token.expires_at - wall_now)
        lifetime = token.lifetime
        margin = self.margin(lifetime) if lifetime is not None else 0.0
        return expires - margin, expires


@dataclass(frozen=True, slots=True, repr=False)
class Token:
    """An access token and its wall-clock timing; ``repr`` never shows the token.

    ``obtained_at`` and ``expires_at`` are epoch seconds (``time.time()``); ``expires_at`` is
    ``None`` when the provider gave no expiry and the manifest no default. A token whose
    lifetime is 0 is for one use: the call that fetched it, never served from a cache.
    """

    access_token: Secret
    token_type: str
    scopes: tuple[str, ...]
    expires_at: float | None
    obtained_at: float

    @property
    def lifetime(self) -> float | None:
        """Seconds between ``obtained_at`` and ``expires_at`` (``None``: no known expiry)."""
        return None if self.expires_at is None else self.expires_at - self.obtained_at

    def expired(self, wall_now: float) -> bool:
        """True once the wall clock reads ``wall_now`` at or past ``expires_at``."""
        return self.expires_at is not None and wall_now >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this token, **with the clear access token**: encrypt it."""
        return {
            "access_token": self.access_token.reveal(),
            "token_type": self.token_type,
            "scopes": list(self.scopes),
            "expires_at": self.expires_at,
            "obtained_at": self.obtained_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """The ``Token`` that ``to_dict`` wrote; ``ValueError`` for anything else, so a
        damaged cache entry can be treated as a miss."""
        try:
            access_token = data["access_token"]
            token_type = data["token_type"]
            scopes = data["scopes"]
            expires_at = data["expires_at"]
            obtained_at = data["obtained_at"]
        except (KeyError, TypeError):
            raise ValueError("not a serialised token") from None
        numbers = (obtained_at,) if expires_at is None else (obtained_at, expires_at)
        if (
            not isinstance(access_token, str)
            or not access_token
            or not isinstance(token_type, str)
            or not isinstance(scopes, list)
            or not all(isinstance(s, str) for s in scopes)
            or not all(_is_number(n) for n in numbers)
        ):
            raise ValueError("not a serialised token")
        return cls(
            access_token=Secret(access_token),
            token_type=token_type,
            scopes=tuple(scopes),
            expires_at=None if expires_at is None else float(expires_at),
            obtained_at=float(obtained_at),
        )

    def __repr__(self) -> str:
        return (
            f"Token(token_type={self.token_type!r}, scopes={self.scopes!r}, "
            f"expires_at={self.expires_at!r}, access_token=<hidden>)"
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def token_to_dict(token: Token) -> dict[str, Any]:
    """``token.to_dict()``: the serialised form, **with the clear access token**."""
    return token.to_dict()


def token_from_dict(data: Mapping[str, Any]) -> Token:
    """``Token.from_dict(data)``: ``ValueError`` for anything ``to_dict`` did not write."""
    return Token.from_dict(data)

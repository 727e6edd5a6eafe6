"""The tokens a manager holds: local copies with deadlines on its own monotonic clock.

A ``Token`` carries wall-clock times so it can cross a process boundary; a wall clock can
jump. So each token that enters a manager (fetched, or read from a cache) is timed once:
its remaining lifetime on the wall clock becomes a refresh deadline and an expiry deadline
on the manager's monotonic clock (``RefreshPolicy.deadlines``), and from then on only those
count. A token the manager has already timed out stays timed out even if a cache hands it
back again (the cache's clock may disagree; ours decides).

Holding a local copy is also what keeps the warm path free of locks and cache calls: a
shared cache costs no round trip per API call. Dictionary reads and single assignments are
atomic in CPython, so ``fresh`` takes no lock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .response import TokenGrant
from .token import RefreshPolicy, Token

__all__ = ["Held", "HeldTokens", "reusable"]


@dataclass(frozen=True, slots=True)
class Held:
    """A token and its deadlines on the holder's monotonic clock."""

    token: Token
    refresh_at: float
    expires_at: float


class HeldTokens:
    """Per-key local copies of tokens; ``clock`` is monotonic, ``wall_clock`` epoch."""

    def __init__(
        self,
        refresh: RefreshPolicy,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self._refresh = refresh
        self._clock = clock
        self._wall_clock = wall_clock
        self._held: dict[str, Held] = {}

    def fresh(self, key: str) -> Token | None:
        """The token held for ``key`` while it is not due for refresh (the warm path)."""
        held = self._held.get(key)
        if held is not None and self._clock() < held.refresh_at:
            return held.token
        return None

    def unexpired(self, key: str) -> Token | None:
        """The token held for ``key`` while it has not expired (due for refresh or not)."""
        held = self._held.get(key)
        if held is not None and self._clock() < held.expires_at:
            return held.token
        return None

    def read(self, key: str, token: Token | None) -> Token | None:
        """``token`` (what a cache answered for ``key``) if it is fresh; held from now on."""
        seen = self._held.get(key)
        if seen is not None and self._clock() < seen.refresh_at:
            return seen.token
        if token is None:
            return None
        if seen is not None and seen.token.access_token == token.access_token:
            return None  # the token this manager already timed out: its deadlines stand
        held = self._time(token)
        if self._clock() >= held.refresh_at:
            return None
        self._held[key] = held
        return token

    def is_fresh(self, token: Token) -> bool:
        """Whether ``token`` is not due for refresh, held or not."""
        for held in list(self._held.values()):
            if held.token is token:
                return self._clock() < held.refresh_at
        return self._clock() < self._time(token).refresh_at

    def is_alive(self, token: Token) -> bool:
        """Whether ``token`` (not held, from a cache) has not expired."""
        return self._clock() < self._time(token).expires_at

    def receive(self, grant: TokenGrant) -> Held:
        """The ``Token`` of a grant just received, timed from now; ``keep`` it once stored."""
        now, wall = self._clock(), self._wall_clock()
        lifetime = grant.expires_in
        token = Token(
            access_token=grant.access_token,
            token_type=grant.token_type,
            scopes=grant.scopes,
            expires_at=wall + lifetime,
            obtained_at=wall,
        )
        if lifetime <= 0:
            return Held(token, -math.inf, now)
        return Held(token, now + lifetime - self._refresh.margin(lifetime), now + lifetime)

    def keep(self, key: str, held: Held) -> None:
        """Hold ``held`` for ``key`` from now on (a single-use token is never held)."""
        if reusable(held.token):
            self._held[key] = held

    def drop(self, key: str, token: Token | None = None) -> None:
        """Forget ``key``'s token (only if it is ``token``, when given)."""
        held = self._held.get(key)
        if held is not None and (token is None or held.token.access_token == token.access_token):
            self._held.pop(key, None)

    def _time(self, token: Token) -> Held:
        """``token`` with deadlines on the monotonic clock (lifetime 0: never fresh)."""
        now = self._clock()
        lifetime = token.lifetime
        if lifetime is not None and lifetime <= 0:
            return Held(token, -math.inf, now)
        refresh_at, expires_at = self._refresh.deadlines(
            token, now=now, wall_now=self._wall_clock()
        )
        return Held(token, refresh_at, expires_at)


def reusable(token: Token) -> bool:
    """False for a token of lifetime 0: valid for the call that fetched it, never cached."""
    return token.lifetime is None or token.lifetime > 0

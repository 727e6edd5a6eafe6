"""Access tokens, when they are due for refresh, and where they are kept.

A ``Token`` is what the token manager hands out: the access token (a ``Secret``), its
normalised type, the granted scopes and its timing. ``TokenCache`` is the small protocol a
store of tokens implements (``get``/``set``/``delete`` by an opaque key); ``MemoryTokenCache``
is the default, one per runtime. A different cache (shared between processes, say) is plugged
in later through a hook: it receives only keys made by ``cache_key`` (a SHA-256 digest, never a
secret) and ``Token`` values.

Timing: ``expires_at`` and ``refresh_at`` are on the *monotonic* clock of this process, so a
wall-clock jump cannot make a token look fresh; ``obtained_at`` (wall clock) and ``lifetime``
let a cross-process cache recompute them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .._secrets import Secret

__all__ = [
    "MemoryTokenCache",
    "RefreshPolicy",
    "Token",
    "TokenCache",
    "cache_key",
]


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """How early a token is replaced, and the longest lifetime believed.

    The refresh margin is ``min(margin_seconds, margin_fraction * lifetime)``: a 24 h Shopify
    token is replaced 60 s early, a 30 s token 3 s early (never a refresh loop for short
    lifetimes). ``max_lifetime`` clamps absurd ``expires_in`` values (``1e9``) so that a token
    is at least re-fetched now and then; a revoked one is caught by the API's 401 anyway.
    """

    margin_seconds: float = 60.0
    margin_fraction: float = 0.1
    max_lifetime: float = 30 * 24 * 3600.0

    def margin(self, lifetime: float) -> float:
        """Seconds before expiry at which a token of ``lifetime`` seconds counts as stale."""
        return max(0.0, min(self.margin_seconds, self.margin_fraction * lifetime))


@dataclass(frozen=True, slots=True, repr=False)
class Token:
    """An access token and its timing; ``repr`` never shows the token.

    ``lifetime`` is the clamped ``expires_in`` in seconds (0 = use once: valid for the call
    that fetched it, never served from the cache). ``expires_at``/``refresh_at`` are monotonic
    times (``None``: no known expiry). ``obtained_at`` is the wall-clock epoch of the answer.
    """

    access_token: Secret
    token_type: str
    scopes: tuple[str, ...]
    expires_at: float | None
    lifetime: float | None
    obtained_at: float
    refresh_at: float | None = field(default=None)

    def is_fresh(self, now: float) -> bool:
        """True while the token may be served from a cache at monotonic time ``now``."""
        if self.lifetime is not None and self.lifetime <= 0:
            return False
        if self.refresh_at is not None:
            return now < self.refresh_at
        if self.expires_at is not None:
            return now < self.expires_at
        return True

    def __repr__(self) -> str:
        return (
            f"Token(token_type={self.token_type!r}, scopes={self.scopes!r}, "
            f"lifetime={self.lifetime!r}, expires_at={self.expires_at!r}, access_token=<hidden>)"
        )


@runtime_checkable
class TokenCache(Protocol):
    """Where tokens are kept between requests. Implementations must be thread-safe.

    ``key`` is an opaque string from ``cache_key``. ``get`` returns what ``set`` stored (or
    ``None``); it need not check expiry, the manager does. ``delete`` of a missing key is a
    no-op. Methods are called from threads and from event loops alike, so they must be quick
    and must not block for long (no network round trip under a lock).
    """

    def get(self, key: str) -> Token | None: ...

    def set(self, key: str, token: Token) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryTokenCache:
    """A dict behind a lock: the default ``TokenCache``, one per runtime, never global."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}

    def get(self, key: str) -> Token | None:
        with self._lock:
            return self._tokens.get(key)

    def set(self, key: str, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


def cache_key(
    *,
    service: str,
    authentication: str,
    token_url: str,
    client_id: str,
    scopes: Iterable[str],
    extra: Iterable[tuple[str, str]] = (),
) -> str:
    """The cache key of a token request: a SHA-256 hex digest of what identifies it.

    Two authentications whose rendered token URL, client id, scopes or extra request fields
    differ never share a token. Callers must not pass secret values: the digest is stored by
    caches that may be shared.
    """
    material = json.dumps(
        [service, authentication, token_url, client_id, sorted(scopes), sorted(extra)],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(material.encode("ascii")).hexdigest()

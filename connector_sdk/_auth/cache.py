"""Where tokens are kept: the cache protocol, its optional lease, and the in-memory cache.

``TokenCache`` is what a token store implements, in process or shared by a fleet (Redis):
``get``/``set``/``delete`` and their async twins ``aget``/``aset``/``adelete``, by an opaque
key. What callers and implementers may rely on:

* **Keys are never secrets.** A key is made by ``cache_key``: a SHA-256 hex digest of the
  service, authentication, rendered token URL, client id, scopes and non-secret request
  fields. A cache may store keys in clear and log them.
* **Values are ``Token`` objects** with wall-clock expiry (``connector_sdk._auth.token``), so a
  token written by one process means the same in another. ``Token.to_dict`` is the one
  serialised form; it holds the clear token, so a remote cache encrypts it. A cache may
  expire an entry at ``token.expires_at``; it need not check expiry on ``get`` (the manager
  does) but must never hand back a token other than the one ``set`` for that key.
* **No lock is held while a cache method runs.** The token manager calls the cache outside
  every lock of its own, from threads (sync methods) and from event loops (async methods),
  so a cache may do a network round trip. It must be thread-safe. The async methods must
  not block the event loop.
* **A failing cache costs token requests, never a wrong token.** The manager keeps a local
  copy of each fresh token, so the warm path does not touch the cache at all.

``TokenLease`` is optional: a cache that also offers it gives fleet-wide single flight.
``acquire_lease(key, owner, ttl)`` takes the lease named by ``key`` for ``owner`` (a random
string the manager makes per attempt) for ``ttl`` seconds, only if nobody holds it: Redis
``SET lease-key owner NX PX ttl``. ``release_lease(key, owner)`` deletes it only if
``owner`` still holds it (compare-and-delete, a Lua script in Redis): a worker whose lease
expired cannot release the lease another worker took since. A worker that dies holding the
lease blocks the others for at most ``ttl``.

Caches written for the first, sync-only protocol (``SyncTokenCache``: ``get``, ``set``,
``delete``) keep working: ``as_token_cache`` adapts them, calling the sync methods from
coroutines too, which that protocol required to be quick.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from .token import Token

__all__ = [
    "MemoryTokenCache",
    "SyncTokenCache",
    "TokenCache",
    "TokenLease",
    "as_token_cache",
    "cache_key",
    "lease_of",
]


@runtime_checkable
class SyncTokenCache(Protocol):
    """The first cache protocol: sync methods only (still accepted, see ``as_token_cache``)."""

    def get(self, key: str) -> Token | None: ...

    def set(self, key: str, token: Token) -> None: ...

    def delete(self, key: str) -> None: ...


@runtime_checkable
class TokenCache(SyncTokenCache, Protocol):
    """Where tokens are kept between requests: sync methods for threads, async for loops.

    ``get`` returns what ``set`` stored for ``key`` (or ``None``: missing, expired, or
    unreadable); ``delete`` of a missing key is a no-op. Never called under a lock.
    """

    async def aget(self, key: str) -> Token | None: ...

    async def aset(self, key: str, token: Token) -> None: ...

    async def adelete(self, key: str) -> None: ...


@runtime_checkable
class TokenLease(Protocol):
    """An optional lease per key, for single flight across processes and hosts.

    ``acquire_lease`` returns True when ``owner`` now holds the lease for ``ttl`` seconds,
    False when someone (anyone, ``owner`` included) holds an unexpired one. ``release_lease``
    returns True when it deleted ``owner``'s lease, False when the lease had expired or
    belongs to another owner (then it is left alone).
    """

    def acquire_lease(self, key: str, owner: str, ttl: float) -> bool: ...

    def release_lease(self, key: str, owner: str) -> bool: ...

    async def aacquire_lease(self, key: str, owner: str, ttl: float) -> bool: ...

    async def arelease_lease(self, key: str, owner: str) -> bool: ...


class MemoryTokenCache:
    """A dict behind a lock: the default ``TokenCache`` (and ``TokenLease``), one per runtime,
    never global. Tokens never leave the process.

    The async methods call the sync ones (a dict update is quick), so a subclass that
    overrides ``get``/``set``/``delete`` changes both. ``clock`` (monotonic) times leases.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._clock = clock

    def get(self, key: str) -> Token | None:
        with self._lock:
            return self._tokens.get(key)

    def set(self, key: str, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    async def aget(self, key: str) -> Token | None:
        return self.get(key)

    async def aset(self, key: str, token: Token) -> None:
        self.set(key, token)

    async def adelete(self, key: str) -> None:
        self.delete(key)

    def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            held = self._leases.get(key)
            if held is not None and held[1] > now:
                return False
            self._leases[key] = (owner, now + ttl)
            return True

    def release_lease(self, key: str, owner: str) -> bool:
        now = self._clock()
        with self._lock:
            held = self._leases.get(key)
            if held is None or held[1] <= now:
                self._leases.pop(key, None)
                return False
            if held[0] != owner:
                return False
            del self._leases[key]
            return True

    async def aacquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        return self.acquire_lease(key, owner, ttl)

    async def arelease_lease(self, key: str, owner: str) -> bool:
        return self.release_lease(key, owner)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


class _SyncOnly:
    """A ``SyncTokenCache`` seen as a ``TokenCache``: the async methods call the sync ones."""

    def __init__(self, cache: SyncTokenCache) -> None:
        self.inner = cache

    def get(self, key: str) -> Token | None:
        return self.inner.get(key)

    def set(self, key: str, token: Token) -> None:
        self.inner.set(key, token)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    async def aget(self, key: str) -> Token | None:
        return self.inner.get(key)

    async def aset(self, key: str, token: Token) -> None:
        self.inner.set(key, token)

    async def adelete(self, key: str) -> None:
        self.inner.delete(key)


def as_token_cache(cache: TokenCache | SyncTokenCache) -> TokenCache:
    """``cache`` itself when it implements ``TokenCache``, else a wrapper that serves the
    async methods with the sync ones. ``TypeError`` for an object that is not a cache."""
    if isinstance(cache, TokenCache):
        return cache
    if isinstance(cache, SyncTokenCache):
        return _SyncOnly(cache)
    raise TypeError(
        f"a token cache needs get, set and delete methods; {type(cache).__name__} lacks some"
    )


def lease_of(cache: TokenCache | SyncTokenCache) -> TokenLease | None:
    """The cache's lease when it offers one (all four methods), else ``None``."""
    inner = cache.inner if isinstance(cache, _SyncOnly) else cache
    return inner if isinstance(inner, TokenLease) else None


def cache_key(
    *,
    service: str,
    authentication: str,
    token_url: str,
    client_id: str,
    scopes: Iterable[str],
    extra: Iterable[tuple[str, str]] = (),
    grant: str = "client_credentials",
) -> str:
    """The cache key of a token request: a SHA-256 hex digest of what identifies it.

    Two authentications whose grant, rendered token URL, client id, scopes or extra request
    fields differ never share a token. Callers must not pass secret values: the digest is
    stored by caches that may be shared.
    """
    material = json.dumps(
        [service, authentication, token_url, client_id, sorted(scopes), sorted(extra), grant],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(material.encode("ascii")).hexdigest()

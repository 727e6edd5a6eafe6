"""A token cache shared by a fleet of workers, in Redis, with the lease for single flight.

Selected with ``CONNECTOR_SDK_TOKEN_CACHE=redis://host:port/db`` (or ``rediss://`` for TLS,
``unix:///path``), or ``Runtime(token_cache="redis://…")``; extra ``connector-sdk[redis]``
(redis-py, its sync client for threads and its asyncio client for event loops). What it
guarantees, and why:

* **Redis never holds a clear token, and a key is never a secret.** A value is the token's
  JSON sealed with the store's key (``SecretCipher``: AES-256-GCM, associated data binding
  it to its cache key, so an entry copied under another key fails to open). Keys are
  ``<prefix>token:<digest>`` and ``<prefix>lease:<digest>``, the digest from ``cache_key``.
  An entry that does not open (another key, damage) is a miss, never a wrong token.
* **Entries expire with the token**: ``SET … PX`` the token's remaining lifetime.
* **Fleet-wide single flight** (``TokenLease``): ``acquire_lease`` is ``SET lease owner NX
  PX ttl``; ``release_lease`` a Lua compare-and-delete, so a worker whose lease expired
  cannot delete the lease another worker holds since. The token manager re-reads the cache
  after acquiring and waits a bounded time (``single_flight``).
* **Degraded mode: a failing Redis never fails a call.** Any Redis error switches this
  process to a local in-memory cache and lease; it logs ONE warning for the outage, retries
  Redis at most once per ``retry_interval`` and says when it is back. Deletes made during
  the outage (an invalidated or revoked token) are replayed when Redis returns, so the
  fleet does not keep a token this worker threw away. The cost is extra token requests.
* **No round trip on the warm path**: the token manager keeps a local copy of each fresh
  token and calls the cache only on a miss or a refresh.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .._errors import ConnectorSDKError, StoreError
from .._secrets import shown_url
from .._stores.crypto import SecretCipher, key_origin, load_secret_key
from .._stores.home import ensure_private_dir, sdk_home
from .._telemetry import get_logger
from .cache import MemoryTokenCache
from .token import Token, token_from_dict, token_to_dict

__all__ = ["TOKEN_CACHE_ENV", "RedisTokenCache", "open_token_cache"]

logger = get_logger("connector_sdk.tokens")

#: The environment variable that chooses a shared token cache.
TOKEN_CACHE_ENV = "CONNECTOR_SDK_TOKEN_CACHE"
_SCHEMES = ("redis://", "rediss://", "unix://")
_AAD = "connector-sdk token cache"
_NO_EXPIRY_MS = 30 * 24 * 3600 * 1000
# KEYS[1] the lease, ARGV[1] the owner: delete only the caller's own lease.
_RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""
T = TypeVar("T")


class RedisTokenCache:
    """``TokenCache`` and ``TokenLease`` in Redis; see the module docstring.

    ``url`` is a redis-py URL; ``cipher`` seals the tokens (the store's key). ``timeout``
    bounds each Redis call, connect included, so an unreachable server costs at most that
    before the local cache answers. Thread-safe; one instance serves any number of loops.
    """

    def __init__(
        self,
        url: str,
        cipher: SecretCipher,
        *,
        prefix: str = "connector-sdk:",
        timeout: float = 2.0,
        retry_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            import redis
            import redis.asyncio
        except ImportError as exc:
            raise StoreError(
                f"{TOKEN_CACHE_ENV} selects Redis, but redis-py is not installed; install it "
                f"with: pip install 'connector-sdk[redis]'"
            ) from exc
        self._redis = redis
        self._url = url
        self._display = shown_url(url)
        self._cipher = cipher
        self._prefix = prefix
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._clock = clock
        self._options: dict[str, Any] = {
            "socket_timeout": timeout, "socket_connect_timeout": timeout,
            "retry_on_timeout": False, "health_check_interval": 0,
        }
        try:
            self._client = redis.Redis.from_url(url, **self._options, retry=_no_retry(False))
        except ValueError as exc:
            raise StoreError(f"{TOKEN_CACHE_ENV} is not a usable Redis URL ({self._display}):"
                             f" {exc}; write redis://host:port/db") from None
        self._release = self._client.register_script(_RELEASE)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = \
            weakref.WeakKeyDictionary()
        self._local = MemoryTokenCache(clock=clock)
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._outage = False
        self._pending_deletes: set[str] = set()
        self._foreign_key_warned = False
        self.stats = {"round_trips": 0, "errors": 0, "outages": 0}

    def __repr__(self) -> str:
        return f"RedisTokenCache({self._display!r})"

    def describe(self) -> str:
        return f"Redis token cache at {self._display} (tokens encrypted, key from " \
               f"{self._cipher.origin})"

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and this process uses its local cache."""
        return self._outage

    # -- TokenCache ------------------------------------------------------------------------

    def get(self, key: str) -> Token | None:
        return self._sync(lambda c: c.get(self._token_key(key)),
                          lambda raw: self._opened(key, raw),
                          lambda: self._local.get(key))

    def set(self, key: str, token: Token) -> None:
        self._local.set(key, token)
        sealed, ms = self._sealed(key, token), self._ttl_ms(token)
        self._sync(lambda c: c.set(self._token_key(key), sealed, px=ms), None, lambda: None)

    def delete(self, key: str) -> None:
        self._local.delete(key)
        if self._sync(lambda c: c.delete(self._token_key(key)), lambda _: True,
                      lambda: False) is False:
            with self._lock:
                self._pending_deletes.add(key)

    async def aget(self, key: str) -> Token | None:
        return await self._async_call(lambda c: c.get(self._token_key(key)),
                                      lambda raw: self._opened(key, raw),
                                      lambda: self._local.get(key))

    async def aset(self, key: str, token: Token) -> None:
        self._local.set(key, token)
        sealed, ms = self._sealed(key, token), self._ttl_ms(token)
        await self._async_call(lambda c: c.set(self._token_key(key), sealed, px=ms), None,
                               lambda: None)

    async def adelete(self, key: str) -> None:
        self._local.delete(key)
        if await self._async_call(lambda c: c.delete(self._token_key(key)), lambda _: True,
                                  lambda: False) is False:
            with self._lock:
                self._pending_deletes.add(key)

    # -- TokenLease ------------------------------------------------------------------------

    def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        return bool(self._sync(
            lambda c: c.set(self._lease_key(key), owner, nx=True, px=_ms(ttl)), bool,
            lambda: self._local.acquire_lease(key, owner, ttl)))

    def release_lease(self, key: str, owner: str) -> bool:
        self._local.release_lease(key, owner)
        return bool(self._sync(
            lambda c: self._release(keys=[self._lease_key(key)], args=[owner], client=c),
            lambda n: n == 1, lambda: False))

    async def aacquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        return bool(await self._async_call(
            lambda c: c.set(self._lease_key(key), owner, nx=True, px=_ms(ttl)), bool,
            lambda: self._local.acquire_lease(key, owner, ttl)))

    async def arelease_lease(self, key: str, owner: str) -> bool:
        self._local.release_lease(key, owner)
        return bool(await self._async_call(
            lambda c: c.eval(_RELEASE, 1, self._lease_key(key), owner),
            lambda n: n == 1, lambda: False))

    def close(self) -> None:
        """Close the sync client and every event loop's asyncio client.

        A loop that is still open and idle runs its client's ``aclose()`` to the end; a loop
        running in another thread is handed it (waited for, briefly); the current thread's
        running loop gets it as a task (``close()`` cannot block its own loop: call
        ``aclose()`` there instead). A closed loop's client is dropped: its sockets went with
        the loop's transports.
        """
        self._client.close()
        clients, self._async = list(self._async.items()), weakref.WeakKeyDictionary()
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, client in clients:
            if loop.is_closed():
                continue
            if loop is current:
                loop.create_task(client.aclose())
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                try:
                    future.result(timeout=self._timeout)
                except Exception:  # closing is best effort
                    future.cancel()
            else:
                loop.run_until_complete(client.aclose())

    async def aclose(self) -> None:
        """Close the running loop's asyncio client, then everything ``close()`` closes."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()

    # -- plumbing --------------------------------------------------------------------------

    def _token_key(self, key: str) -> str:
        return f"{self._prefix}token:{key}"

    def _lease_key(self, key: str) -> str:
        return f"{self._prefix}lease:{key}"

    def _sealed(self, key: str, token: Token) -> bytes:
        text = json.dumps(token_to_dict(token), separators=(",", ":"))
        return self._cipher.encrypt(text, authentication=_AAD, parameter=key)

    def _opened(self, key: str, raw: Any) -> Token | None:
        """The token in ``raw``, or None for a miss, another key's or a damaged entry."""
        if raw is None:
            return None
        try:
            clear = self._cipher.decrypt(bytes(raw), authentication=_AAD, parameter=key)
            token = token_from_dict(json.loads(clear.reveal()))
        except ConnectorSDKError as exc:
            if not self._foreign_key_warned:
                self._foreign_key_warned = True
                logger.warning("the Redis token cache at %s holds a token this worker cannot "
                               "open (%s); set the same CONNECTOR_SDK_SECRET_KEY on every "
                               "worker", self._display, type(exc).__name__)
            return None
        except ValueError:
            return None
        self._local.set(key, token)
        return token

    @staticmethod
    def _ttl_ms(token: Token) -> int:
        if token.expires_at is None:
            return _NO_EXPIRY_MS
        return max(1, _ms(token.expires_at - time.time()))

    def _up(self) -> bool:
        """Whether to try Redis now: always when it answered last, once per
        ``retry_interval`` during an outage (the probe)."""
        return not self._outage or self._clock() >= self._down_until

    def _sync(self, call: Callable[[Any], Any], then: Callable[[Any], T] | None,
              fallback: Callable[[], T]) -> T | None:
        if not self._up():
            return fallback()
        try:
            self._replay_deletes_sync()
            answer = call(self._client)
        except self._redis.RedisError as exc:
            self._failed(exc)
            return fallback()
        self._answered()
        return then(answer) if then is not None else None

    async def _async_call(self, call: Callable[[Any], Awaitable[Any]],
                          then: Callable[[Any], T] | None, fallback: Callable[[], T]) -> T | None:
        if not self._up():
            return fallback()
        try:
            client = self._async_client()
            if self._pending_deletes:
                keys = self._take_pending()
                try:
                    await client.delete(*[self._token_key(k) for k in keys])
                except self._redis.RedisError:
                    self._return_pending(keys)
                    raise
            answer = await call(client)
        except self._redis.RedisError as exc:
            self._failed(exc)
            return fallback()
        self._answered()
        return then(answer) if then is not None else None

    def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self._url, **self._options,
                                                  retry=_no_retry(True))
            self._async[loop] = client
        return client

    def _replay_deletes_sync(self) -> None:
        if self._pending_deletes:
            keys = self._take_pending()
            try:
                self._client.delete(*[self._token_key(k) for k in keys])
            except self._redis.RedisError:
                self._return_pending(keys)
                raise

    def _take_pending(self) -> list[str]:
        with self._lock:
            keys, self._pending_deletes = list(self._pending_deletes), set()
        return keys

    def _return_pending(self, keys: list[str]) -> None:
        """Deletes that did not reach Redis are kept for the next probe: a token this
        worker invalidated must not stay in the fleet's cache until it expires."""
        with self._lock:
            self._pending_deletes.update(keys)

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.stats["errors"] += 1
            self._down_until = self._clock() + self._retry_interval
            first = not self._outage
            self._outage = True
            if first:
                self.stats["outages"] += 1
        if first:
            logger.warning(
                "the Redis token cache at %s is unreachable (%s); this worker uses its own "
                "cache until Redis is back: calls keep working, at the cost of extra token "
                "requests", self._display, type(exc).__name__)

    def _answered(self) -> None:
        self.stats["round_trips"] += 1
        if self._outage:
            with self._lock:
                back, self._outage = self._outage, False
            if back:
                logger.warning("the Redis token cache at %s is reachable again; tokens are "
                               "shared with the fleet again", self._display)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _no_retry(is_async: bool) -> Any:
    """No retries inside redis-py: an outage must fall back at once, not after backoffs."""
    from redis.backoff import NoBackoff

    if is_async:
        from redis.asyncio.retry import Retry as AsyncRetry

        return AsyncRetry(NoBackoff(), 0)
    from redis.retry import Retry

    return Retry(NoBackoff(), 0)


def open_token_cache(
    url: str, environ: Mapping[str, str] | None = None, *, home: Path | None = None
) -> RedisTokenCache:
    """The cache ``url`` names (``redis://``, ``rediss://``, ``unix://``), its tokens sealed
    with the store's key (``CONNECTOR_SDK_SECRET_KEY`` or ``<home>/secret.key``)."""
    url = url.strip()
    if not url.startswith(_SCHEMES):
        raise StoreError(
            f"{TOKEN_CACHE_ENV} is {url.partition(':')[0]}:…, which names no token cache "
            f"connector-sdk knows; use redis://host:port/db (or rediss:// for TLS)"
        )
    home = ensure_private_dir(sdk_home(environ) if home is None else home)
    key = load_secret_key(home, environ, create=True)
    return RedisTokenCache(url, SecretCipher(key, origin=key_origin(home, environ)))

"""``TokenManager``: a usable token for any authentication, fetched once for all callers.

One manager per runtime; it owns the token cache (``TokenCache``, in memory by default), a
local copy of each token it has seen, single flight and the failure cooldowns
(``single_flight``), so nothing is module-global.

What callers may rely on:

* **The warm path touches neither a lock nor the cache.** A token the manager fetched or read
  from the cache is kept locally with deadlines on the manager's monotonic clock, derived once
  from the token's wall-clock ``expires_at`` (``RefreshPolicy.deadlines``): a wall-clock jump
  cannot make a held token look fresh, and a shared cache costs no round trip per call.
* **The cache is never called while a lock is held**, sync methods from threads and async
  methods from event loops, so a remote cache may take its time without blocking others.
* **One token request per key at a time**: across threads and tasks through
  ``SingleFlight``; across processes through the cache's lease, when it offers one
  (``lead_sync``/``lead_async``). The leader re-reads the cache before fetching.
* **Failures are bounded**: retries within the call (``fetch``), then a cooldown in which
  calls fail fast, then one probe. An unexpected error reaches every waiter at once too.

The grant (``grants``) builds the request and reads the answer; what the one leader does
(re-read the cache, then the store, the cache's lease or the token endpoint, and the HTTP
client it sends with) is ``source.TokenSource``. Authorization-code authentications keep
their tokens in the store (``bind_store``): they are read from it and refreshed once across
processes by ``refresh.StoredTokens``.
"""

from __future__ import annotations

import concurrent.futures
import random
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .._errors import TokenTransportError
from .._http.retry import RetryPolicy
from .._http.settings import HttpSettings
from .._manifest.model import Authentication
from .._telemetry import Unit, record_token_lookup, token_unit
from .cache import MemoryTokenCache, SyncTokenCache, TokenCache, as_token_cache, lease_of
from .fetch import Outcome
from .grants import Grant, grant_for, response_context
from .held import HeldTokens
from .response import TokenGrant
from .secret_refs import has_references, unresolved
from .single_flight import LeaderGone, LeasePolicy, SingleFlight
from .source import Prepared, TokenSource
from .stats import TokenStats
from .token import RefreshPolicy, Token

__all__ = ["TokenManager", "TokenStats"]

_PREPARED_LIMIT = 512

_Future = concurrent.futures.Future[Token]


class TokenManager:
    """Obtains, caches and refreshes access tokens for authentications; one per runtime.

    ``clock`` (monotonic) drives expiry and cooldowns, ``wall_clock`` stamps tokens and reads
    ``Retry-After`` dates; both are injectable for tests. ``rng`` feeds the backoff jitter.
    ``lease`` times the cache's lease, when the cache offers one.
    """

    def __init__(
        self,
        *,
        cache: TokenCache | SyncTokenCache | None = None,
        settings: HttpSettings | None = None,
        retry: RetryPolicy | None = None,
        refresh: RefreshPolicy | None = None,
        lease: LeasePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._cache = as_token_cache(cache if cache is not None else MemoryTokenCache())
        self._settings = settings or HttpSettings()
        self._retry = retry or RetryPolicy()
        self._refresh = refresh or RefreshPolicy()
        self._clock = clock
        self._held = HeldTokens(self._refresh, clock=clock, wall_clock=wall_clock)
        self._lock = threading.Lock()
        self._prepared: OrderedDict[int, Prepared] = OrderedDict()
        self._counts = dict.fromkeys(TokenStats.__slots__, 0)
        self._flight = SingleFlight(retry=self._retry, clock=clock, count=self._count)
        self._source = TokenSource(
            cache=self._cache, lease=lease_of(self._cache), held=self._held,
            settings=self._settings, retry=self._retry, refresh=self._refresh,
            lease_policy=lease or LeasePolicy(),
            count=self._count, clock=clock, wall_clock=wall_clock, rng=rng)
        per_attempt = self._settings.timeout * 4 + self._retry.retry_after_cap
        self._wait_timeout = per_attempt * self._retry.max_attempts + 5.0

    # -- public surface -----------------------------------------------------------------

    @property
    def settings(self) -> HttpSettings:
        return self._settings

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The SSL context every client of this runtime shares (built once)."""
        return self._source.ssl_context

    @property
    def stats(self) -> TokenStats:
        with self._lock:
            return TokenStats(**self._counts)

    def get_token(self, authentication: Authentication) -> Token:
        """A usable token for ``authentication``, fetching it (once for all callers) if needed.

        Raises a ``TokenError`` subclass, ``NetworkPolicyError`` for a refused token URL or
        ``ParameterError`` for a missing parameter.
        """
        prepared = self._prepare(authentication)
        key = prepared.request.key
        token = self.fresh(key)
        if token is not None:
            return token
        with token_unit(authentication, prepared.grant.name) as lookup:
            return self._get_cold(prepared, key, lookup)

    def _get_cold(self, prepared: Prepared, key: str, lookup: Unit) -> Token:
        give_up = self._clock() + self._wait_timeout
        while True:
            token = self._held.read(key, self._cache.get(key))
            if token is not None:
                record_token_lookup(lookup, "hit")
                return token
            leader, future, attempts = self._flight.join(key, is_async=False)
            if leader:
                record_token_lookup(lookup, "miss", future)
                return self._lead_sync(prepared, future, attempts)
            if self._flight.led_on_this_thread(key):
                # A blocking call on the thread whose event loop is fetching this very token
                # would wait for itself: fetch separately rather than deadlock.
                record_token_lookup(lookup, "miss")
                return self._source.fetch_sync(prepared, self._retry.max_attempts, Outcome())
            record_token_lookup(lookup, "wait", future)
            try:
                return self._flight.wait_sync(future, give_up - self._clock())
            except LeaderGone:
                continue
            except TimeoutError:
                raise self._wait_timed_out(prepared) from None

    async def aget_token(self, authentication: Authentication) -> Token:
        """``get_token`` for coroutines: awaits the fetch, never blocks the event loop."""
        prepared = self._prepare(authentication)
        key = prepared.request.key
        token = self.fresh(key)
        if token is not None:
            return token
        with token_unit(authentication, prepared.grant.name) as lookup:
            return await self._aget_cold(prepared, key, lookup)

    async def _aget_cold(self, prepared: Prepared, key: str, lookup: Unit) -> Token:
        give_up = self._clock() + self._wait_timeout
        while True:
            token = self._held.read(key, await self._cache.aget(key))
            if token is not None:
                record_token_lookup(lookup, "hit")
                return token
            leader, future, attempts = self._flight.join(key, is_async=True)
            if leader:
                record_token_lookup(lookup, "miss", future)
                return await self._lead_async(prepared, future, attempts)
            record_token_lookup(lookup, "wait", future)
            try:
                return await self._flight.wait_async(future, give_up - self._clock())
            except LeaderGone:
                continue
            except TimeoutError:
                raise self._wait_timed_out(prepared) from None

    def bind_store(self, store: Callable[[], Any]) -> None:
        """Where authorization-code tokens live (``refresh.StoredTokens``): ``store()``."""
        self._source.bind_store(store)

    def exchange(self, authentication: Authentication, grant: Grant) -> TokenGrant:
        """Send ``grant``'s request once (a code is single use: no retry) and read the
        answer: what ``complete_authorization`` exchanges a code with."""
        return self._source.exchange(authentication, grant)

    def key_of(self, authentication: Authentication) -> str:
        """The cache key of ``authentication``'s token (a digest, never a secret)."""
        return self._prepare(authentication).request.key

    def fresh(self, key: str) -> Token | None:
        """The token this manager holds for ``key`` while it is fresh by this manager's
        monotonic clock and margin; no lock, no cache call (the warm path)."""
        return self._held.fresh(key)

    def is_fresh(self, token: Token) -> bool:
        """Whether ``token`` may still be used now, by this manager's clock and margin."""
        return self._held.is_fresh(token)

    def invalidate(self, authentication: Authentication, token: Token) -> None:
        """Drop ``token`` if it is still the held or cached one (the API refused it).

        A token that was already replaced is left alone, so 200 callers that saw the same 401
        cause one refresh, not 200. Another process may replace the cached token between the
        look and the delete: that costs one extra token request, never a wrong token.
        """
        key = self._drop_local(authentication, token)
        current = self._cache.get(key)
        if current is not None and current.access_token == token.access_token:
            self._cache.delete(key)

    def _drop_local(self, authentication: Authentication, token: Token) -> str:
        """The part of ``invalidate`` that touches no shared cache: the held copy and the
        stored authorization-code token, if ``token`` is still theirs; the cache key."""
        prepared = self._prepare(authentication)
        key = prepared.request.key
        self._held.drop(key, token)
        stored = self._source.stored(prepared)
        if stored is not None:
            stored.reject(key, token)
        return key

    async def ainvalidate(self, authentication: Authentication, token: Token) -> None:
        """``invalidate`` for coroutines: the cache's async methods, awaited."""
        key = self._drop_local(authentication, token)
        current = await self._cache.aget(key)
        if current is not None and current.access_token == token.access_token:
            await self._cache.adelete(key)

    def peek(self, authentication: Authentication) -> Token | None:
        """The held or cached token if it has not expired yet (even if due for refresh)."""
        key = self._prepare(authentication).request.key
        token = self._held.unexpired(key)
        if token is not None:
            return token
        token = self._cache.get(key)
        return token if token is not None and self._held.is_alive(token) else None

    def held(self) -> list[Authentication]:
        """The authentications this manager holds an unexpired cached token for."""
        with self._lock:
            known = [p.authentication for p in self._prepared.values()]
        return [a for a in known if self.peek(a) is not None]

    def forget(self, authentication: Authentication) -> None:
        """Drop the cached token and any failure cooldown (authentication changed or deleted)."""
        key = self._prepare(authentication).request.key
        self._held.drop(key)
        self._cache.delete(key)
        self._flight.forget(key)
        self._source.forget(key)
        with self._lock:
            self._prepared = OrderedDict(
                (k, p) for k, p in self._prepared.items() if p.request.key != key
            )

    def close(self) -> None:
        """Close the pooled token client (a caller's transport is left open)."""
        self._source.close()

    def __enter__(self) -> TokenManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens held and cached -------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _prepare(self, authentication: Authentication) -> Prepared:
        ident = id(authentication)
        with self._lock:
            found = self._prepared.get(ident)
            if found is not None and found.authentication is authentication:
                self._prepared.move_to_end(ident)
                return found
        grant = grant_for(authentication)
        # a secret reference is resolved by each fetch (_flow), not when a request is keyed
        keyed = unresolved(authentication) if has_references(authentication) \
            else authentication
        request = grant.build_request(keyed, allow_loopback=self._settings.allow_loopback)
        context = response_context(authentication, request, self._refresh)
        prepared = Prepared(authentication, grant, request, context)
        with self._lock:
            self._prepared[ident] = prepared
            while len(self._prepared) > _PREPARED_LIMIT:
                self._prepared.popitem(last=False)
        return prepared

    # -- leading a fetch ----------------------------------------------------------------------

    def _lead_sync(self, prepared: Prepared, future: _Future, attempts: int) -> Token:
        key = prepared.request.key
        outcome = Outcome()
        try:
            token = self._source.lead_sync(prepared, attempts, outcome)
        except Exception as error:
            self._finish(key, future, error, outcome)
            raise
        except BaseException:
            self._finish(key, future, LeaderGone(), outcome)
            raise
        self._flight.finish(key, future, token=token)
        return token

    async def _lead_async(self, prepared: Prepared, future: _Future, attempts: int) -> Token:
        key = prepared.request.key
        outcome = Outcome()
        try:
            token = await self._source.lead_async(prepared, attempts, outcome)
        except Exception as error:
            self._finish(key, future, error, outcome)
            raise
        except BaseException:
            self._finish(key, future, LeaderGone(), outcome)
            raise
        self._flight.finish(key, future, token=token)
        return token

    def _finish(self, key: str, future: _Future, error: BaseException, outcome: Outcome) -> None:
        self._flight.finish(key, future, error=error, transient=outcome.transient,
                            retry_after=outcome.retry_after)

    def _wait_timed_out(self, prepared: Prepared) -> TokenTransportError:
        ctx = prepared.context
        return TokenTransportError(
            f"service '{ctx.service}', authentication '{ctx.authentication}': gave up waiting"
            f" {self._wait_timeout:.0f} s for another caller's token request; try again",
            service=ctx.service,
            authentication=ctx.authentication,
        )

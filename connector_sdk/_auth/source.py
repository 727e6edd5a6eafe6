"""``TokenSource``: where a token comes from when the ``TokenManager`` holds none.

The manager decides *who* fetches (its held copies, the cache, single flight); the source is
what the one leader then does, and the only part that sends token requests:

* **Re-read first.** The leader reads the cache again before anything else: another thread,
  task or process may have stored the token since the caller looked.
* **Then one source per kind of token.** An authorization-code token is read from the store
  and refreshed once across processes (``refresh.StoredTokens``, bound by ``bind_store``);
  with a cache that offers a lease, the token is fetched under it (``lead_sync``/``lead_async``
  re-read the cache after taking it); otherwise it is fetched straight from the token endpoint.
* **One retry loop.** ``fetch.fetch_flow`` is built here once (``flow``/``one_flow``) and driven
  by ``drive_sync`` (the pooled client, made on first use) or ``drive_async`` (a client per
  fetch unless the settings bring an async transport). A fetched token is kept locally
  (``held``) and, when it may be reused, written to the cache.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._http.retry import RetryPolicy
from .._http.seam import httpx
from .._http.settings import (
    HttpSettings,
    make_ssl_context,
    new_async_client,
    new_client,
    preload_async_backend,
)
from .._manifest.model import Authentication
from .cache import TokenCache, TokenLease
from .fetch import FetchFlow, Outcome, drive_async, drive_sync, fetch_flow, post_async, post_sync
from .grants import REFRESH, Grant, response_context
from .held import HeldTokens, reusable
from .refresh import StoredTokens
from .request import TokenRequest
from .response import ResponseContext, TokenGrant
from .secret_refs import has_references
from .single_flight import LeasePolicy, lead_async, lead_sync
from .token import RefreshPolicy, Token

__all__ = ["Prepared", "TokenSource"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """An authentication with its grant, keyed request and response context, built once."""

    authentication: Authentication
    grant: Grant
    request: TokenRequest
    context: ResponseContext


class TokenSource:
    """The store, the cache's lease and the token endpoint, for one ``TokenManager``.

    It shares the manager's cache, held copies, policies and clocks; ``count`` bumps the
    manager's ``TokenStats`` counters.
    """

    def __init__(
        self, *, cache: TokenCache, lease: TokenLease | None, held: HeldTokens,
        settings: HttpSettings, retry: RetryPolicy, refresh: RefreshPolicy,
        lease_policy: LeasePolicy, count: Callable[[str], None],
        clock: Callable[[], float], wall_clock: Callable[[], float], rng: Callable[[], float],
    ) -> None:
        self._cache = cache
        self._lease = lease
        self._held = held
        self._settings = settings
        self._retry = retry
        self._refresh = refresh
        self._lease_policy = lease_policy
        self._count = count
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng
        self._ssl_context = make_ssl_context(settings)
        if settings.async_transport is None:
            preload_async_backend()
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._stored: StoredTokens | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self._ssl_context

    # -- authorization-code tokens in the store ------------------------------------------------

    def bind_store(self, store: Callable[[], Any]) -> None:
        """Where authorization-code tokens live (``refresh.StoredTokens``): ``store()``."""
        self._stored = StoredTokens(store, self._held, refresh=self._refresh,
                                    lease=self._lease_policy, make_flow=self.one_flow,
                                    allow_loopback=self._settings.allow_loopback,
                                    clock=self._clock, wall_clock=self._wall_clock)

    def stored(self, prepared: Prepared) -> StoredTokens | None:
        """The store's side for an authorization-code token, None for any other grant."""
        if prepared.grant is REFRESH and self._stored is None:
            raise TypeError("TokenManager.bind_store was not called")
        return self._stored if prepared.grant is REFRESH else None

    def forget(self, key: str) -> None:
        if self._stored is not None:
            self._stored.forget(key)

    # -- what the leader does --------------------------------------------------------------------

    def lead_sync(self, prepared: Prepared, attempts: int, outcome: Outcome) -> Token:
        """The token for ``prepared``: re-read, else from the store, under the lease or
        fetched (blocking)."""
        key = prepared.request.key
        token = self._held.read(key, self._cache.get(key))
        stored = self.stored(prepared)
        if token is None and stored is not None:
            token = stored.lead_sync(key, prepared.authentication, self.drive_sync)
            self._held.read(key, token)
        elif token is None and self._lease is not None:
            token = lead_sync(
                key, self._lease, self._lease_policy, clock=self._clock,
                read=lambda: self._held.read(key, self._cache.get(key)),
                fetch=lambda: self.fetch_sync(prepared, attempts, outcome),
            )
        elif token is None:
            token = self.fetch_sync(prepared, attempts, outcome)
        return token

    async def lead_async(self, prepared: Prepared, attempts: int, outcome: Outcome) -> Token:
        """``lead_sync`` for coroutines: the cache's async methods, the fetch awaited."""
        key = prepared.request.key

        async def read() -> Token | None:
            return self._held.read(key, await self._cache.aget(key))

        token = await read()
        stored = self.stored(prepared)
        if token is None and stored is not None:
            token = await stored.lead_async(key, prepared.authentication, self.drive_async)
            self._held.read(key, token)
        elif token is None and self._lease is not None:
            token = await lead_async(
                key, self._lease, self._lease_policy, clock=self._clock, read=read,
                fetch=lambda: self._fetch_async(prepared, attempts, outcome),
            )
        elif token is None:
            token = await self._fetch_async(prepared, attempts, outcome)
        return token

    def fetch_sync(self, prepared: Prepared, attempts: int, outcome: Outcome) -> Token:
        """One token from the endpoint, kept and (when reusable) cached."""
        held = self._held.receive(self.drive_sync(self._flow(prepared, attempts, outcome)))
        if reusable(held.token):
            self._cache.set(prepared.request.key, held.token)
        self._held.keep(prepared.request.key, held)
        return held.token

    async def _fetch_async(self, prepared: Prepared, attempts: int, outcome: Outcome) -> Token:
        held = self._held.receive(await self.drive_async(self._flow(prepared, attempts, outcome)))
        if reusable(held.token):
            await self._cache.aset(prepared.request.key, held.token)
        self._held.keep(prepared.request.key, held)
        return held.token

    # -- the retry loop --------------------------------------------------------------------------

    def exchange(self, authentication: Authentication, grant: Grant) -> TokenGrant:
        """Send ``grant``'s request once (no retry) and read the answer."""
        request = grant.build_request(authentication,
                                      allow_loopback=self._settings.allow_loopback)
        context = response_context(authentication, request, self._refresh)
        return self.drive_sync(self.one_flow(request, context, grant, 1))

    def one_flow(self, request: TokenRequest, context: ResponseContext, grant: Grant,
                 attempts: int | None = None) -> FetchFlow:
        return fetch_flow(request, context, grant, self._retry,
                          attempts=attempts or self._retry.max_attempts, outcome=Outcome(),
                          timeout=self._settings.timeout, count=self._count,
                          wall_clock=self._wall_clock, rng=self._rng)

    def _flow(self, prepared: Prepared, attempts: int, outcome: Outcome) -> FetchFlow:
        request, context = prepared.request, prepared.context
        if has_references(prepared.authentication):  # asks the secret manager now
            request = prepared.grant.build_request(
                prepared.authentication, allow_loopback=self._settings.allow_loopback)
            context = response_context(prepared.authentication, request, self._refresh)
        return fetch_flow(
            request, context, prepared.grant, self._retry,
            attempts=attempts, outcome=outcome, timeout=self._settings.timeout,
            count=self._count, wall_clock=self._wall_clock, rng=self._rng,
        )

    # -- HTTP ----------------------------------------------------------------------------------

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = new_client(self._settings, ssl_context=self._ssl_context)
            return self._client

    def drive_sync(self, flow: FetchFlow) -> TokenGrant:
        client = self._sync_client()
        return drive_sync(flow, lambda spec: post_sync(client, spec, self._settings))

    async def drive_async(self, flow: FetchFlow) -> TokenGrant:
        client = new_async_client(self._settings, ssl_context=self._ssl_context)
        try:
            return await drive_async(flow, lambda spec: post_async(client, spec, self._settings))
        finally:
            if self._settings.async_transport is None:
                await client.aclose()

    def close(self) -> None:
        """Close the pooled token client (a caller's transport is left open)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._settings.transport is None:
            client.close()

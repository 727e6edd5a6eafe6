"""``TokenManager``: one token request per credential at a time, cached, retried with bounds.

One manager per runtime; it owns the token cache (``TokenCache``, in memory by default), the
in-flight requests and the failure cooldowns, so nothing is module-global.

Single flight: a short ``threading.Lock`` guards a per-key ``concurrent.futures.Future``. The
first caller on a cold or stale key becomes the leader, re-checks the cache, and fetches
(threads with a blocking ``httpx.Client``, tasks with an awaited ``httpx.AsyncClient``); the
others wait on the future (threads with ``result(timeout)``, tasks with
``await asyncio.wrap_future``), so N callers, threads, tasks or both, cause one request, and
the event loop is never blocked: the lock is only held for dictionary updates. A failed fetch
is delivered to every waiter and the key is released, so the next call may try again.

Retries follow ``RetryPolicy`` (``_retry``): transient failures are retried with backoff or
``Retry-After`` within the call; then the key fails fast for a cooldown, after which one probe
request is sent. Permanent failures (4xx) are replayed from a negative cache for a while.

The retry loop is written once, as a generator (``_fetch_flow``) that yields "send" and
"sleep" steps; ``_drive_sync`` and ``_drive_async`` perform them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import math
import random
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from .._errors import TokenError, TokenTransportError
from .._http.retry import (
    RetryPolicy,
    failure_cooldown,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
)
from .._http.seam import httpx
from .._http.settings import (
    HttpSettings,
    make_ssl_context,
    new_async_client,
    new_client,
    preload_async_backend,
)
from .._manifest.model import Authentication
from .cache import MemoryTokenCache, SyncTokenCache, TokenCache, as_token_cache
from .request import TokenRequest, build_token_request
from .response import (
    ResponseContext,
    TokenGrant,
    endpoint_error,
    parse_token_response,
    redact,
)
from .token import RefreshPolicy, Token

__all__ = ["TokenManager", "TokenStats"]

logger = logging.getLogger("connector_sdk.tokens")

_PREPARED_LIMIT = 512
_MAX_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class TokenStats:
    """Counters since the manager was made: what tests and benchmarks assert on.

    ``requests`` counts HTTP requests sent to token endpoints (retries included), ``tokens``
    successful fetches, ``failures`` fetches that ended in an error, ``fast_failures`` calls
    answered from a failure cooldown without a request, ``joined`` calls that waited for
    another caller's fetch.
    """

    requests: int = 0
    tokens: int = 0
    failures: int = 0
    fast_failures: int = 0
    joined: int = 0


@dataclass(frozen=True, slots=True)
class _Prepared:
    authentication: Authentication
    request: TokenRequest
    context: ResponseContext


@dataclass(frozen=True, slots=True)
class _Local:
    """A token this manager has seen, with deadlines on its own monotonic clock."""

    token: Token
    refresh_at: float
    expires_at: float


@dataclass(slots=True)
class _Failure:
    error: TokenError
    until: float
    probe: bool


@dataclass(slots=True)
class _Answer:
    status: int
    content_type: str | None
    retry_after: str | None
    body: bytes


@dataclass(slots=True)
class _Outcome:
    """What the fetch flow leaves behind for the cooldown decision."""

    retry_after: float | None = None
    transient: bool = False


class _LeaderGone(Exception):
    """The caller fetching for a key stopped (cancelled, interrupted): waiters try again."""


class TokenManager:
    """Obtains, caches and refreshes access tokens for authentications; one per runtime.

    ``clock`` (monotonic) drives expiry and cooldowns, ``wall_clock`` stamps tokens and reads
    ``Retry-After`` dates; both are injectable for tests. ``rng`` feeds the backoff jitter.
    """

    def __init__(
        self,
        *,
        cache: TokenCache | SyncTokenCache | None = None,
        settings: HttpSettings | None = None,
        retry: RetryPolicy | None = None,
        refresh: RefreshPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._cache: TokenCache = as_token_cache(cache if cache is not None else MemoryTokenCache())
        self._local: dict[str, _Local] = {}
        self._settings = settings or HttpSettings()
        self._retry = retry or RetryPolicy()
        self._refresh = refresh or RefreshPolicy()
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng
        self._lock = threading.Lock()
        self._inflight: dict[str, concurrent.futures.Future[Token]] = {}
        self._async_leaders: dict[str, int] = {}
        self._failures: dict[str, _Failure] = {}
        self._prepared: OrderedDict[int, _Prepared] = OrderedDict()
        self._counts = dict.fromkeys(TokenStats.__slots__, 0)
        self._ssl_context = make_ssl_context(self._settings)
        if self._settings.async_transport is None:
            preload_async_backend()
        self._client: httpx.Client | None = None
        per_attempt = self._settings.timeout * 4 + self._retry.retry_after_cap
        self._wait_timeout = per_attempt * self._retry.max_attempts + 5.0

    # -- public surface -----------------------------------------------------------------

    @property
    def settings(self) -> HttpSettings:
        return self._settings

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The SSL context every client of this runtime shares (built once)."""
        return self._ssl_context

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
        for _ in range(_MAX_ROUNDS):
            token = self._cached(prepared.request.key)
            if token is not None:
                return token
            leader, future, attempts = self._join(prepared, is_async=False)
            if leader:
                return self._lead_sync(prepared, future, attempts)
            if self._async_leaders.get(prepared.request.key) == threading.get_ident():
                # A blocking call on the thread whose event loop is fetching this very token
                # would wait for itself: fetch separately rather than deadlock.
                return self._fetch_alone(prepared)
            try:
                return future.result(timeout=self._wait_timeout)
            except _LeaderGone:
                continue
            except concurrent.futures.TimeoutError:
                raise self._wait_timed_out(prepared) from None
        raise self._wait_timed_out(prepared)

    async def aget_token(self, authentication: Authentication) -> Token:
        """``get_token`` for coroutines: awaits the fetch, never blocks the event loop."""
        prepared = self._prepare(authentication)
        for _ in range(_MAX_ROUNDS):
            token = self._cached(prepared.request.key)
            if token is not None:
                return token
            leader, future, attempts = self._join(prepared, is_async=True)
            if leader:
                return await self._lead_async(prepared, future, attempts)
            waiting = asyncio.wrap_future(future)
            waiting.add_done_callback(_consume)
            try:
                return await asyncio.wait_for(asyncio.shield(waiting), self._wait_timeout)
            except _LeaderGone:
                continue
            except TimeoutError:
                raise self._wait_timed_out(prepared) from None
        raise self._wait_timed_out(prepared)

    def key_of(self, authentication: Authentication) -> str:
        """The cache key of ``authentication``'s token (a digest, never a secret)."""
        return self._prepare(authentication).request.key

    def fresh(self, key: str) -> Token | None:
        """The token this manager last held for ``key`` while it is fresh by this manager's
        monotonic clock and margin; no lock, no cache call (the warm path)."""
        local = self._local.get(key)
        if local is not None and self._clock() < local.refresh_at:
            return local.token
        return None

    def is_fresh(self, token: Token) -> bool:
        """Whether ``token`` may still be used now, by this manager's clock and margin."""
        for local in list(self._local.values()):
            if local.token is token:
                return self._clock() < local.refresh_at
        return self._localise(token).refresh_at > self._clock()

    def invalidate(self, authentication: Authentication, token: Token) -> None:
        """Drop ``token`` from the cache if it is still the cached one (the API refused it).

        A token that was already replaced is left alone, so 200 callers that saw the same 401
        cause one refresh, not 200.
        """
        key = self._prepare(authentication).request.key
        local = self._local.get(key)
        if local is not None and local.token.access_token == token.access_token:
            self._local.pop(key, None)
        current = self._cache.get(key)
        if current is not None and current.access_token == token.access_token:
            self._cache.delete(key)
            logger.debug(
                "token invalidated (service=%s authentication=%s)",
                authentication.service.id,
                authentication.name,
            )

    def peek(self, authentication: Authentication) -> Token | None:
        """The cached token if it has not expired yet (even if due for refresh); no request."""
        key = self._prepare(authentication).request.key
        local = self._local.get(key)
        if local is not None and self._clock() < local.expires_at:
            return local.token
        token = self._cache.get(key)
        if token is None or self._localise(token).expires_at <= self._clock():
            return None
        return token

    def held(self) -> list[Authentication]:
        """The authentications this manager holds an unexpired cached token for."""
        with self._lock:
            known = [p.authentication for p in self._prepared.values()]
        return [a for a in known if self.peek(a) is not None]

    def forget(self, authentication: Authentication) -> None:
        """Drop the cached token and any failure cooldown (authentication changed or deleted)."""
        key = self._prepare(authentication).request.key
        self._local.pop(key, None)
        self._cache.delete(key)
        with self._lock:
            self._failures.pop(key, None)
            self._prepared = OrderedDict(
                (k, p) for k, p in self._prepared.items() if p.request.key != key
            )

    def close(self) -> None:
        """Close the pooled token client (a caller's transport is left open)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._settings.transport is None:
            client.close()

    def __enter__(self) -> TokenManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- single flight --------------------------------------------------------------------

    def _prepare(self, authentication: Authentication) -> _Prepared:
        ident = id(authentication)
        with self._lock:
            found = self._prepared.get(ident)
            if found is not None and found.authentication is authentication:
                self._prepared.move_to_end(ident)
                return found
        request = build_token_request(
            authentication, allow_loopback=self._settings.allow_loopback
        )
        auth = authentication.service.auth
        context = ResponseContext(
            service=authentication.service.id,
            authentication=authentication.name,
            accepted_token_types=auth.accepted_token_types,
            default_token_type=auth.default_token_type,
            default_expires_in=auth.default_expires_in,
            max_lifetime=self._refresh.max_lifetime,
            requested_scopes=request.scopes,
            redact=request.redact,
        )
        prepared = _Prepared(authentication, request, context)
        with self._lock:
            self._prepared[ident] = prepared
            while len(self._prepared) > _PREPARED_LIMIT:
                self._prepared.popitem(last=False)
        return prepared

    def _cached(self, key: str) -> Token | None:
        seen = self._local.get(key)
        if seen is not None and self._clock() < seen.refresh_at:
            return seen.token
        token = self._cache.get(key)
        if token is None:
            return None
        if seen is not None and seen.token.access_token == token.access_token:
            return None  # the token this manager already timed out: its deadlines stand
        local = self._localise(token)
        if self._clock() >= local.refresh_at:
            return None
        self._local[key] = local
        return token

    def _localise(self, token: Token) -> _Local:
        """``token`` with deadlines on this manager's monotonic clock (a single-use token,
        lifetime 0, is never fresh)."""
        now = self._clock()
        if token.lifetime is not None and token.lifetime <= 0:
            return _Local(token, -math.inf, now)
        refresh_at, expires_at = self._refresh.deadlines(
            token, now=now, wall_now=self._wall_clock()
        )
        return _Local(token, refresh_at, expires_at)

    def _join(
        self, prepared: _Prepared, *, is_async: bool
    ) -> tuple[bool, concurrent.futures.Future[Token], int]:
        key = prepared.request.key
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                self._counts["joined"] += 1
                return False, future, 0
            attempts = self._retry.max_attempts
            failure = self._failures.get(key)
            if failure is not None:
                remaining = failure.until - self._clock()
                if remaining > 0:
                    self._counts["fast_failures"] += 1
                    raise _replay(failure.error, remaining)
                del self._failures[key]
                if failure.probe:
                    attempts = 1
            future = concurrent.futures.Future()
            self._inflight[key] = future
            if is_async:
                self._async_leaders[key] = threading.get_ident()
            return True, future, attempts

    def _lead_sync(
        self, prepared: _Prepared, future: concurrent.futures.Future[Token], attempts: int
    ) -> Token:
        outcome = _Outcome()
        try:
            token = self._cached(prepared.request.key)
            if token is None:
                grant = self._drive_sync(self._fetch_flow(prepared, attempts, outcome))
                token = self._store(prepared, grant)
        except TokenError as error:
            self._finish(prepared, future, error=error, outcome=outcome)
            raise
        except BaseException:
            self._finish(prepared, future, error=_LeaderGone(), outcome=outcome)
            raise
        self._finish(prepared, future, token=token, outcome=outcome)
        return token

    async def _lead_async(
        self, prepared: _Prepared, future: concurrent.futures.Future[Token], attempts: int
    ) -> Token:
        outcome = _Outcome()
        try:
            token = self._cached(prepared.request.key)
            if token is None:
                grant = await self._drive_async(self._fetch_flow(prepared, attempts, outcome))
                token = self._store(prepared, grant)
        except TokenError as error:
            self._finish(prepared, future, error=error, outcome=outcome)
            raise
        except BaseException:
            self._finish(prepared, future, error=_LeaderGone(), outcome=outcome)
            raise
        self._finish(prepared, future, token=token, outcome=outcome)
        return token

    def _fetch_alone(self, prepared: _Prepared) -> Token:
        logger.debug(
            "blocking token call on the event loop thread that is fetching; fetching"
            " separately (service=%s authentication=%s)",
            prepared.context.service,
            prepared.context.authentication,
        )
        flow = self._fetch_flow(prepared, self._retry.max_attempts, _Outcome())
        return self._store(prepared, self._drive_sync(flow))

    def _store(self, prepared: _Prepared, grant: TokenGrant) -> Token:
        now = self._clock()
        wall = self._wall_clock()
        lifetime = grant.expires_in
        token = Token(
            access_token=grant.access_token,
            token_type=grant.token_type,
            scopes=grant.scopes,
            expires_at=wall + lifetime,
            obtained_at=wall,
        )
        if lifetime > 0:
            margin = self._refresh.margin(lifetime)
            self._local[prepared.request.key] = _Local(token, now + lifetime - margin,
                                                       now + lifetime)
            self._cache.set(prepared.request.key, token)
        return token

    def _finish(
        self,
        prepared: _Prepared,
        future: concurrent.futures.Future[Token],
        *,
        outcome: _Outcome,
        token: Token | None = None,
        error: BaseException | None = None,
    ) -> None:
        key = prepared.request.key
        with self._lock:
            if isinstance(error, TokenError):
                self._counts["failures"] += 1
                cooldown = 0.0
                if error.permanent:
                    cooldown = failure_cooldown(self._retry, permanent=True)
                elif outcome.transient:
                    cooldown = failure_cooldown(
                        self._retry, permanent=False, retry_after=outcome.retry_after
                    )
                if cooldown > 0:
                    self._failures[key] = _Failure(
                        error, self._clock() + cooldown, probe=not error.permanent
                    )
            elif token is not None:
                self._failures.pop(key, None)
            self._inflight.pop(key, None)
            self._async_leaders.pop(key, None)
        if future.done():  # pragma: no cover - only if someone cancelled our future
            return
        if error is not None:
            future.set_exception(error)
        elif token is not None:
            future.set_result(token)

    def _wait_timed_out(self, prepared: _Prepared) -> TokenTransportError:
        ctx = prepared.context
        return TokenTransportError(
            f"service '{ctx.service}', authentication '{ctx.authentication}': gave up waiting"
            f" {self._wait_timeout:.0f} s for another caller's token request; try again",
            service=ctx.service,
            authentication=ctx.authentication,
        )

    # -- the retry loop, once for both drivers ----------------------------------------------

    def _fetch_flow(
        self, prepared: _Prepared, attempts: int, outcome: _Outcome
    ) -> Generator[TokenRequest | float, Any, TokenGrant]:
        """Yields the ``TokenRequest`` to send (answer: an ``_Answer``, or a thrown
        ``httpx.TransportError``) and float seconds to sleep; returns the grant or raises the
        final ``TokenError``."""
        ctx = prepared.context
        policy = dataclasses.replace(self._retry, max_attempts=attempts)
        attempt = 0
        while True:
            attempt += 1
            with self._lock:
                self._counts["requests"] += 1
            logger.debug(
                "token request service=%s authentication=%s attempt=%d/%d",
                ctx.service,
                ctx.authentication,
                attempt,
                attempts,
            )
            retry_after: float | None = None
            error: TokenError
            try:
                answer: _Answer = yield prepared.request
            except httpx.TransportError as exc:
                error = self._transport_error(prepared, exc, attempt)
                logger.debug(
                    "token request failed service=%s authentication=%s attempt=%d error=%s",
                    ctx.service,
                    ctx.authentication,
                    attempt,
                    type(exc).__name__,
                )
            else:
                logger.debug(
                    "token response service=%s authentication=%s attempt=%d status=%d",
                    ctx.service,
                    ctx.authentication,
                    attempt,
                    answer.status,
                )
                if 200 <= answer.status < 300:
                    grant = parse_token_response(
                        answer.status, answer.content_type, answer.body, ctx
                    )
                    with self._lock:
                        self._counts["tokens"] += 1
                    return grant
                error = endpoint_error(
                    answer.status, answer.content_type, answer.body, ctx, attempts=attempt
                )
                if error.permanent or not is_retryable_status(answer.status):
                    raise error
                if answer.status in (429, 503):
                    retry_after = parse_retry_after(answer.retry_after, now=self._wall_clock())
            outcome.transient = True
            outcome.retry_after = retry_after
            delay = retry_delay(policy, attempt, retry_after=retry_after, rng=self._rng)
            if delay is None:
                if retry_after is not None and retry_after > policy.retry_after_cap:
                    error = _with_suffix(
                        error,
                        f" (the endpoint asked to wait {retry_after:.0f} s, more than the"
                        f" {policy.retry_after_cap:.0f} s the SDK waits within a call)",
                    )
                raise error
            logger.debug(
                "token retry service=%s authentication=%s attempt=%d wait=%.3f",
                ctx.service,
                ctx.authentication,
                attempt,
                delay,
            )
            yield delay

    def _transport_error(
        self, prepared: _Prepared, exc: httpx.TransportError, attempt: int
    ) -> TokenTransportError:
        ctx = prepared.context
        url = prepared.request.url
        if isinstance(exc, httpx.TimeoutException):
            what = f"did not answer within {self._settings.timeout:g} s ({type(exc).__name__})"
        else:
            detail = redact(str(exc), prepared.request.redact)[:120]
            what = f"could not be reached ({type(exc).__name__}: {detail})"
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        return TokenTransportError(
            f"service '{ctx.service}', authentication '{ctx.authentication}': the token endpoint"
            f" {url.scheme}://{url.host}{url.path} {what}{tries}; check network access to the"
            " provider and try again",
            service=ctx.service,
            authentication=ctx.authentication,
            permanent=False,
        )

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = new_client(self._settings, ssl_context=self._ssl_context)
            return self._client

    def _drive_sync(self, flow: Generator[TokenRequest | float, Any, TokenGrant]) -> TokenGrant:
        client = self._sync_client()
        value: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                step = flow.throw(thrown) if thrown is not None else flow.send(value)
            except StopIteration as stop:
                grant: TokenGrant = stop.value
                return grant
            value, thrown = None, None
            if isinstance(step, float):
                time.sleep(step)
                continue
            try:
                value = self._send_sync(client, step)
            except httpx.TransportError as exc:
                thrown = exc

    async def _drive_async(
        self, flow: Generator[TokenRequest | float, Any, TokenGrant]
    ) -> TokenGrant:
        client = new_async_client(self._settings, ssl_context=self._ssl_context)
        try:
            value: Any = None
            thrown: BaseException | None = None
            while True:
                try:
                    step = flow.throw(thrown) if thrown is not None else flow.send(value)
                except StopIteration as stop:
                    grant: TokenGrant = stop.value
                    return grant
                value, thrown = None, None
                if isinstance(step, float):
                    await asyncio.sleep(step)
                    continue
                try:
                    value = await self._send_async(client, step)
                except httpx.TransportError as exc:
                    thrown = exc
        finally:
            flow.close()
            if self._settings.async_transport is None:
                await client.aclose()

    def _send_sync(
        self, client: httpx.Client, spec: TokenRequest
    ) -> _Answer:
        request = client.build_request(
            "POST", spec.url, headers=list(spec.headers), content=spec.body
        )
        response = client.send(request, stream=True)
        try:
            deadline = time.monotonic() + self._settings.timeout
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= self._settings.max_token_response_bytes:
                    break
                _check_body_deadline(deadline, request)
        finally:
            response.close()
        return _answer(response, bytes(body))

    async def _send_async(
        self, client: httpx.AsyncClient, spec: TokenRequest
    ) -> _Answer:
        request = client.build_request(
            "POST", spec.url, headers=list(spec.headers), content=spec.body
        )
        response = await client.send(request, stream=True)
        try:
            deadline = time.monotonic() + self._settings.timeout
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= self._settings.max_token_response_bytes:
                    break
                _check_body_deadline(deadline, request)
        finally:
            await response.aclose()
        return _answer(response, bytes(body))


def _check_body_deadline(deadline: float, request: httpx.Request) -> None:
    """Stop reading a token answer whose body takes longer than the timeout as a whole.

    httpx's read timeout bounds each read, so an endpoint dripping a byte at a time would
    otherwise hold the call (and every single-flight waiter) for as long as it likes.
    Real time on purpose: the injectable clock is for expiry and cooldowns.
    """
    if time.monotonic() > deadline:
        raise httpx.ReadTimeout("the token answer's body took longer than the timeout",
                                request=request)


def _answer(response: httpx.Response, body: bytes) -> _Answer:
    return _Answer(
        status=response.status_code,
        content_type=response.headers.get("content-type"),
        retry_after=response.headers.get("retry-after"),
        body=body,
    )


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a waiter's exception as retrieved: a cancelled waiter must not log noise."""
    if not future.cancelled():
        future.exception()


def _copy_error(error: TokenError, message: str) -> TokenError:
    return type(error)(
        message,
        service=error.service,
        authentication=error.authentication,
        status=error.status,
        provider_message=error.provider_message,
        oauth_error=error.oauth_error,
        permanent=error.permanent,
    )


def _with_suffix(error: TokenError, suffix: str) -> TokenError:
    return _copy_error(error, str(error) + suffix)


def _replay(error: TokenError, remaining: float) -> TokenError:
    """A fresh copy of a cooled-down failure (never the shared instance, whose traceback
    other threads are extending)."""
    return _copy_error(
        error,
        f"{error} [not retried: this failed moments ago; the SDK asks the token endpoint"
        f" again in {remaining:.1f} s]",
    )


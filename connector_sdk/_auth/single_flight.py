"""Single flight: one token request per key at a time, in this process and, with a lease,
across processes; and the memory of recent failures.

**In process** (``SingleFlight``). A short ``threading.Lock`` guards a per-key
``concurrent.futures.Future``. The first caller on a cold or stale key becomes the leader and
fetches; the others wait on the future: threads with ``result(timeout)``, tasks with
``await asyncio.wrap_future``. So N callers, threads, tasks or both, cause one request, and an
event loop is never blocked: the lock is held only for dictionary updates, never while a
cache is called or a request is sent. What callers may rely on:

* the leader's token, or its error, reaches every waiter at once. That holds for an
  unexpected error too (a bug, a cache that raised): every waiter gets that error, and it
  enters the failure cooldown like a transient failure;
* a leader that stops without an outcome (cancelled, interrupted) lets one waiter lead;
* a waiter gives up after a bounded wait (``TimeoutError``), never hangs;
* after a final failure the key fails fast for a cooldown (``RetryPolicy``), then one probe
  request is sent; permanent failures are replayed for longer.

**Across processes** (``lead_sync``/``lead_async``). When the cache offers a ``TokenLease``,
the leader takes the lease with a random owner and a TTL, re-reads the cache (another process
may have just stored a token), fetches, stores and releases the lease by compare-and-delete.
A leader that finds the lease taken polls the cache with growing, jittered pauses; when the
token appears it is used; when the lease is free it takes it; after ``LeasePolicy.wait`` it
fetches anyway: an extra token request is better than a failed call. A lease method that
raises counts as no lease, for the same reason.

**Exclusive** leads (``exclusive=True``, the authorization-code refresh) never fetch without
the lease: a rotating refresh token works once, and a second request spending it concurrently
either fails (and must not be taken for a revoked consent) or makes the provider revoke the
whole grant (reuse detection, RFC 9700 §4.14.2). Their waiters keep re-reading and trying
the lease past ``wait``, for up to ``ttl`` more (any lease held then has expired by that
time), take it when it is free, and otherwise raise ``LeaseBusy``; a lease method that raises
counts as a lease taken (tried again at the next look).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .._errors import NeedsReconsent, TokenError
from .._http.retry import RetryPolicy, failure_cooldown
from .._telemetry import get_logger
from .cache import TokenLease
from .token import Token

__all__ = ["LeaderGone", "LeaseBusy", "LeasePolicy", "SingleFlight", "lead_async", "lead_sync"]

logger = get_logger("connector_sdk.tokens")


class LeaderGone(Exception):
    """The caller fetching for a key stopped (cancelled, interrupted): waiters try again."""


class LeaseBusy(Exception):
    """An exclusive lead waited ``wait + ttl`` without the lease or a token: another process
    kept the lease all that time (or the lease could not be taken); nothing was fetched."""


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """Timing of the cross-process lease (seconds).

    ``ttl``: how long a lease holds, so a worker that dies holding it blocks the others for
    no longer. ``wait``: how long a worker waits for another's token before fetching its own.
    ``poll``/``max_poll``: the first and longest pause between looks at the cache.
    """

    ttl: float = 30.0
    wait: float = 30.0
    poll: float = 0.02
    max_poll: float = 0.2

    def pauses(self, rng: Callable[[], float] = random.random) -> Any:
        """The pauses between looks: doubling from ``poll`` to ``max_poll``, jittered by
        up to half so a fleet does not look in step."""
        pause = self.poll
        while True:
            yield pause * (0.5 + rng() / 2)
            pause = min(pause * 2, self.max_poll)


@dataclass(slots=True)
class _Failure:
    error: BaseException
    until: float
    probe: bool


class SingleFlight:
    """In-flight fetches and recent failures per key; one per token manager.

    ``count(name)`` is told of ``joined``, ``fast_failures`` and ``failures``.
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy,
        clock: Callable[[], float],
        count: Callable[[str], None],
    ) -> None:
        self._retry = retry
        self._clock = clock
        self._count = count
        self._lock = threading.Lock()
        self._inflight: dict[str, concurrent.futures.Future[Token]] = {}
        self._async_leaders: dict[str, int] = {}
        self._failures: dict[str, _Failure] = {}

    def join(
        self, key: str, *, is_async: bool
    ) -> tuple[bool, concurrent.futures.Future[Token], int]:
        """``(leader, future, attempts)``: lead with ``attempts`` tries (1 for a probe after
        a cooldown) or wait on ``future``. Raises a copy of a failure still cooling down."""
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                self._count("joined")
                return False, future, 0
            attempts = self._retry.max_attempts
            failure = self._failures.get(key)
            if failure is not None:
                remaining = failure.until - self._clock()
                if remaining > 0:
                    self._count("fast_failures")
                    raise replay(failure.error, remaining)
                del self._failures[key]
                if failure.probe:
                    attempts = 1
            future = concurrent.futures.Future()
            self._inflight[key] = future
            if is_async:
                self._async_leaders[key] = threading.get_ident()
            return True, future, attempts

    def led_on_this_thread(self, key: str) -> bool:
        """True when an event loop on this very thread is fetching ``key``: a blocking call
        here would wait for itself."""
        return self._async_leaders.get(key) == threading.get_ident()

    def finish(
        self,
        key: str,
        future: concurrent.futures.Future[Token],
        *,
        token: Token | None = None,
        error: BaseException | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Publish the leader's outcome to every waiter and decide the cooldown.

        ``error`` is a ``TokenError`` (cooldown by its kind; ``transient``: the retries were
        spent), ``LeaderGone`` (no cooldown: a waiter leads next) or any other exception
        (cooled down like a transient failure)."""
        with self._lock:
            if error is not None and not isinstance(error, LeaderGone):
                self._count("failures")
                cooldown = 0.0
                permanent = isinstance(error, TokenError) and error.permanent
                if isinstance(error, NeedsReconsent):
                    pass  # read from the store, no request: a reconnect elsewhere shows at once
                elif permanent:
                    cooldown = failure_cooldown(self._retry, permanent=True)
                elif transient or not isinstance(error, TokenError):
                    cooldown = failure_cooldown(
                        self._retry, permanent=False, retry_after=retry_after
                    )
                if cooldown > 0:
                    self._failures[key] = _Failure(
                        error, self._clock() + cooldown, probe=not permanent
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

    def forget(self, key: str) -> None:
        """Drop ``key``'s failure cooldown (the authentication changed or was deleted)."""
        with self._lock:
            self._failures.pop(key, None)

    @staticmethod
    def wait_sync(future: concurrent.futures.Future[Token], timeout: float) -> Token:
        """The leader's token; raises its error, ``LeaderGone`` or ``TimeoutError``."""
        try:
            return future.result(timeout=max(timeout, 0.0))
        except concurrent.futures.TimeoutError:
            raise TimeoutError from None

    @staticmethod
    async def wait_async(future: concurrent.futures.Future[Token], timeout: float) -> Token:
        """``wait_sync`` for coroutines; cancelling the waiter leaves the fetch running."""
        waiting = asyncio.wrap_future(future)
        waiting.add_done_callback(_consume)
        return await asyncio.wait_for(asyncio.shield(waiting), max(timeout, 0.0))


def lead_sync(
    key: str,
    lease: TokenLease,
    policy: LeasePolicy,
    *,
    read: Callable[[], Token | None],
    fetch: Callable[[], Token],
    clock: Callable[[], float] = time.monotonic,
    exclusive: bool = False,
) -> Token:
    """Fetch ``key``'s token under ``lease``: at most one fetch across every process that
    shares the cache, in normal operation. ``read`` looks in the cache, ``fetch`` requests
    and stores a token. ``exclusive``: ``fetch`` runs only under the lease (module
    docstring); ``LeaseBusy`` when it could not be had in ``wait + ttl``."""
    owner = secrets.token_hex(16)
    give_up = clock() + _patience(policy, exclusive)
    for pause in policy.pauses():
        held = _guard(lambda: lease.acquire_lease(key, owner, policy.ttl), key, "acquire",
                      exclusive)
        if held or (held is None and not exclusive):
            try:
                return (read() if held else None) or fetch()
            finally:
                if held:
                    _guard(lambda: lease.release_lease(key, owner), key, "release")
        time.sleep(min(pause, max(give_up - clock(), 0.0)))
        token = read()
        if token is not None:
            return token
        if clock() >= give_up:
            _waited_too_long(key, policy, exclusive)
            return fetch()
    raise AssertionError("unreachable")  # pragma: no cover - pauses() never ends


async def lead_async(
    key: str,
    lease: TokenLease,
    policy: LeasePolicy,
    *,
    read: Callable[[], Awaitable[Token | None]],
    fetch: Callable[[], Awaitable[Token]],
    clock: Callable[[], float] = time.monotonic,
    exclusive: bool = False,
) -> Token:
    """The async twin of ``lead_sync``: awaits the lease, the cache and the pauses."""
    owner = secrets.token_hex(16)
    give_up = clock() + _patience(policy, exclusive)
    for pause in policy.pauses():
        held = await _aguard(lease.aacquire_lease(key, owner, policy.ttl), key, "acquire",
                             exclusive)
        if held or (held is None and not exclusive):
            try:
                return (await read() if held else None) or await fetch()
            finally:
                if held:
                    await _aguard(lease.arelease_lease(key, owner), key, "release")
        await asyncio.sleep(min(pause, max(give_up - clock(), 0.0)))
        token = await read()
        if token is not None:
            return token
        if clock() >= give_up:
            _waited_too_long(key, policy, exclusive)
            return await fetch()
    raise AssertionError("unreachable")  # pragma: no cover - pauses() never ends


def _patience(policy: LeasePolicy, exclusive: bool) -> float:
    """How long a waiter waits: ``wait``, and ``ttl`` more when it may not fetch without
    the lease (a lease taken when ``wait`` ran out has expired by then)."""
    return policy.wait + (policy.ttl if exclusive else 0.0)


def _guard(call: Callable[[], bool], key: str, what: str,
           exclusive: bool = False) -> bool | None:
    """``call()``, or ``None`` (no lease: fetch anyway, or, exclusive, look again) when the
    lease method raised."""
    try:
        return bool(call())
    except Exception as exc:
        _lease_failed(key, what, exc, exclusive)
        return None


async def _aguard(call: Awaitable[bool], key: str, what: str,
                  exclusive: bool = False) -> bool | None:
    try:
        return bool(await call)
    except Exception as exc:
        _lease_failed(key, what, exc, exclusive)
        return None


def _lease_failed(key: str, what: str, exc: Exception, exclusive: bool) -> None:
    logger.warning(
        "token cache lease %s failed (%s); %s (key=%s...)", what, type(exc).__name__,
        "trying it again" if exclusive else "fetching without it", key[:12],
    )


def _waited_too_long(key: str, policy: LeasePolicy, exclusive: bool) -> None:
    """Log the end of the wait; an exclusive lead raises ``LeaseBusy`` instead of fetching."""
    if exclusive:
        logger.warning(
            "waited %.0f s for another process's token (key=%s...); not fetching one"
            " without the lease", _patience(policy, exclusive), key[:12],
        )
        raise LeaseBusy
    logger.warning(
        "waited %.0f s for another process's token (key=%s...); fetching one here",
        policy.wait, key[:12],
    )


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a waiter's exception as retrieved: a cancelled waiter must not log noise."""
    if not future.cancelled():
        future.exception()


def copy_error(error: TokenError, message: str) -> TokenError:
    """A new ``TokenError`` of ``error``'s class and context with ``message``."""
    return type(error)(
        message,
        service=error.service,
        authentication=error.authentication,
        status=error.status,
        provider_message=error.provider_message,
        oauth_error=error.oauth_error,
        permanent=error.permanent,
    )


def replay(error: BaseException, remaining: float) -> BaseException:
    """A fresh copy of a cooled-down failure (never the shared instance, whose traceback
    other threads are extending)."""
    if isinstance(error, TokenError):
        return copy_error(
            error,
            f"{error} [not retried: this failed moments ago; the SDK asks the token endpoint"
            f" again in {remaining:.1f} s]",
        )
    try:
        fresh = copy.copy(error)
    except Exception:  # pragma: no cover - an exception class that cannot be copied
        return error
    return fresh.with_traceback(None)

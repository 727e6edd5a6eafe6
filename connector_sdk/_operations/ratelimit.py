"""Reading the providers' rate-limit signals, and waiting within bounds before giving up.

APIs say "slow down" in different ways (https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits,
https://shopify.dev/docs/api/admin-rest/usage/rate-limits,
https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits):

* ``429`` with ``Retry-After`` in seconds (Shopify sends fractions, ``2.0``) or as an HTTP date;
* Twitch: ``429`` with ``Ratelimit-Reset``, a Unix time at which the bucket is full again
  (not a delta), and ``Ratelimit-Remaining`` on every response;
* Shopify REST: ``X-Shopify-Shop-Api-Call-Limit: 40/40`` (used/size of a leaky bucket) and
  ``429`` + ``Retry-After`` when it overflows;
* Shopify GraphQL: HTTP 200 whose ``errors`` carry ``extensions.code == "THROTTLED"``; that
  body is the Shopify plugin's to read (``connector_shopify.graphql``), which then spends a
  wait of the same budget through ``OperationContext.rate_limited``.

Two parts, with different jobs:

* **One shared bucket per authentication and per bucket the manifest declares**
  (``rate_limit: twitch``), held by the runtime (``bucket_for``), shared by every concurrent
  caller in it. Before each request a caller *reserves* a slot (``RateLimitBucket.reserve``)
  and sleeps until it; after the answer it *settles* with the provider's headers, which
  correct the bucket's level, size and refill rate. Callers are thus paced one slot apart at
  the provider's refill rate (plus a little jitter), instead of all sleeping until the bucket
  is full and waking together. Pacing waits never count as failures. ``RateLimitBucket`` is
  a Protocol: a fleet-wide bucket (Redis) can implement the same two calls.
* **The failure budget of one call** (``RateLimiter``): a 429 the bucket did not prevent
  (another process spends the same bucket, the provider changed its limit) is waited out
  within a ``RateLimitPolicy``: each wait is capped (``max_wait``), their number bounded
  (``max_waits``), then ``RateLimitError`` naming the service, operation and
  authentication. Sleep and clock are injectable, so tests record the waits instead of
  sleeping.

``rate_limit_delay`` and ``pace_delay`` are pure: they read a response and say how long to
wait.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import RateLimitError
from .._http.retry import parse_retry_after

if TYPE_CHECKING:
    from .._manifest.model import Authentication, OperationSpec
    from .._runtime.runtime import Runtime

__all__ = [
    "LocalBucket",
    "RateLimitBucket",
    "RateLimitPolicy",
    "RateLimiter",
    "bucket_for",
    "pace_delay",
    "rate_limit_delay",
]

#: Wait used when a 429 carries no readable hint at all.
DEFAULT_429_WAIT = 1.0
#: Shopify's REST bucket leaks 2 calls per second on standard plans: one call's worth.
SHOPIFY_LEAK_WAIT = 0.5


@dataclass(frozen=True)
class RateLimitPolicy:
    """How long an operation call may wait for rate limits before ``RateLimitError``.

    ``max_waits`` bounds the waits of one call (all pages together); ``max_wait`` caps each
    wait in seconds (a provider asking for longer is waited ``max_wait`` and asked again).
    ``sleep`` and ``clock`` (wall-clock epoch seconds, for ``Ratelimit-Reset`` and HTTP
    dates) exist for tests.
    """

    max_waits: int = 3
    max_wait: float = 60.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)
    clock: Callable[[], float] = field(default=time.time)


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    try:
        value = float(headers.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _call_limit(headers: Mapping[str, str]) -> tuple[float, float] | None:
    used, sep, size = headers.get("x-shopify-shop-api-call-limit", "").partition("/")
    try:
        pair = (float(used), float(size))
    except ValueError:
        return None
    return pair if sep and pair[1] > 0 else None


def rate_limit_delay(status: int, headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to wait before retrying a response, or None when it is not rate-limited.

    Only ``429`` is a rate limit here (Twitch documents other 429 causes too; they get the
    same bounded waits and then a clear error). The most specific signal wins:
    ``Retry-After``, then Twitch's ``Ratelimit-Reset`` epoch (one point's share of the time
    to full when ``Ratelimit-Limit`` says the size), then a full Shopify call limit (one
    leak's worth), then ``DEFAULT_429_WAIT``.
    """
    if status != 429:
        return None
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    if retry_after is not None:
        return retry_after
    reset = _header_float(headers, "ratelimit-reset")
    if reset is not None:
        limit = _header_float(headers, "ratelimit-limit")
        if limit is not None and limit >= 1:
            # The bucket refills continuously: one point comes back after 1/limit of the
            # time to full, so waiting until full (up to a minute) would waste the rest.
            return max(0.0, reset - now) / limit
        return max(0.0, reset - now)
    if _call_limit(headers) is not None:
        return SHOPIFY_LEAK_WAIT
    return DEFAULT_429_WAIT


def pace_delay(headers: Mapping[str, str], *, now: float) -> float:
    """Seconds to pause before the *next* request after a successful one (0: none needed).

    A Twitch response with ``Ratelimit-Remaining: 0`` means the next request would get a 429
    until ``Ratelimit-Reset``; a Shopify response with a full call limit (``40/40``) means
    the next one would overflow the bucket. Pausing first costs the same time and saves a
    429 and a wait from the budget.
    """
    remaining = _header_float(headers, "ratelimit-remaining")
    reset = _header_float(headers, "ratelimit-reset")
    if remaining is not None and remaining < 1 and reset is not None:
        return max(0.0, reset - now)
    limit = _call_limit(headers)
    if limit is not None and limit[0] >= limit[1]:
        return SHOPIFY_LEAK_WAIT
    return 0.0


class RateLimiter:
    """The wait budget of one operation call (``policy.max_waits`` waits in all).

    ``wait`` sleeps ``min(delay, policy.max_wait)`` or, when the budget is spent, raises
    ``RateLimitError`` with the context given here and the provider's message. ``pause``
    sleeps for pacing (``pace_delay``) without spending the budget, capped the same way.
    """

    def __init__(
        self,
        policy: RateLimitPolicy,
        *,
        service: str,
        operation: str,
        authentication: str,
    ) -> None:
        self.policy = policy
        self.service = service
        self.operation = operation
        self.authentication = authentication
        self.waits: list[float] = []

    def now(self) -> float:
        return self.policy.clock()

    async def wait(
        self, delay: float, *, status: int | None = 429, provider_message: str | None = None
    ) -> None:
        """Wait ``delay`` (capped) before a retry, or raise ``RateLimitError``."""
        await self.policy.sleep(self.count(delay, status=status,
                                           provider_message=provider_message))

    def count(
        self, delay: float, *, status: int | None = 429, provider_message: str | None = None
    ) -> float:
        """Spend one wait of the budget (``delay`` capped, returned) without sleeping: the
        shared bucket sleeps it before the next attempt. ``RateLimitError`` when spent."""
        if len(self.waits) >= self.policy.max_waits:
            said = "" if provider_message is None else f" (the API said: {provider_message})"
            raise RateLimitError(
                f"service '{self.service}' operation '{self.operation}' (authentication"
                f" '{self.authentication}'): still rate limited after"
                f" {len(self.waits)} waits totalling {sum(self.waits):.1f} s{said}; make fewer"
                " calls (lower --max-pages or the page count of the workflow) or retry later",
                service=self.service, authentication=self.authentication,
                operation=self.operation, status=status, provider_message=provider_message,
            )
        seconds = min(max(0.0, delay), self.policy.max_wait)
        self.waits.append(seconds)
        return seconds

    async def pause(self, delay: float) -> None:
        """Pace before the next request; does not count against ``max_waits``."""
        if delay > 0:
            await self.policy.sleep(min(delay, self.policy.max_wait))


# -- the shared bucket -----------------------------------------------------------------------

#: Twitch refills its bucket fully in a minute
#: (https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits); used until the headers give a
#: better estimate.
TWITCH_WINDOW = 60.0
#: Shopify's REST bucket leaks its size every 20 s (40 calls at 2/s, 80 at 4/s), never less
#: than 2 calls a second (https://shopify.dev/docs/api/admin-rest/usage/rate-limits).
SHOPIFY_LEAK_SECONDS = 20.0
SHOPIFY_MIN_LEAK = 2.0
#: A refill rate is estimated from ``Ratelimit-Reset`` only this far ahead: the header is
#: whole seconds, so a nearer reset would make the estimate wildly low.
MIN_ESTIMATE_SPAN = 2.0
#: Weight of a new refill-rate estimate in the running average.
ESTIMATE_WEIGHT = 0.3


class RateLimitBucket(Protocol):
    """The pacing state every caller of one authentication and bucket shares.

    ``reserve`` takes ``cost`` points and says how many seconds the caller must wait before
    sending (0: send now); each ``reserve`` is followed by exactly one ``settle`` with the
    answer's status and headers (``status=None`` when no answer came; a case-insensitive
    mapping such as ``httpx.Headers``), which corrects the
    level, size and refill rate from what the provider said. ``now`` is wall-clock epoch
    seconds (``Ratelimit-Reset`` and HTTP dates are epochs). A fleet-wide implementation keeps
    this state in shared storage; both calls are async so it may do I/O.
    """

    async def reserve(self, cost: float, *, now: float) -> float: ...

    async def settle(self, cost: float, status: int | None, headers: Mapping[str, str],
                     *, now: float) -> None: ...


@dataclass(frozen=True)
class _Signal:
    remaining: float
    capacity: float
    rate: float | None  # points per second, when the headers let it be estimated


def read_signal(headers: Mapping[str, str], *, now: float) -> _Signal | None:
    """What an answer's headers say of the bucket, or None when they say nothing.

    Twitch: ``Ratelimit-Limit`` (size), ``Ratelimit-Remaining``, ``Ratelimit-Reset`` (epoch
    when full: the deficit over the time to it is the refill rate). Shopify REST:
    ``X-Shopify-Shop-Api-Call-Limit: used/size``, leaking its size every 20 s.
    """
    limit = _header_float(headers, "ratelimit-limit")
    remaining = _header_float(headers, "ratelimit-remaining")
    if limit is not None and remaining is not None and limit > 0:
        reset = _header_float(headers, "ratelimit-reset")
        rate = None
        if reset is not None and reset - now >= MIN_ESTIMATE_SPAN and remaining < limit:
            rate = (limit - remaining) / (reset - now)
        return _Signal(max(0.0, remaining), limit, rate)
    call_limit = _call_limit(headers)
    if call_limit is not None:
        used, size = call_limit
        return _Signal(max(0.0, size - used), size,
                       max(SHOPIFY_MIN_LEAK, size / SHOPIFY_LEAK_SECONDS))
    return None


class LocalBucket:
    """A ``RateLimitBucket`` in this process: a token bucket with reservations.

    The level is the provider's bucket as last reported, refilled at the estimated rate,
    minus the points reserved by callers whose answer has not come back yet; it may go
    negative, and a caller then waits until the refill covers its reservation. Reservations
    are taken in turn under a lock, so concurrent callers get slots one refill interval
    apart rather than one wake-up for all. Before the first answer the level is unknown and
    nothing waits (the first answers teach the bucket). A 429 holds every caller for the
    wait it asks (``rate_limit_delay``: ``Retry-After``, one point of Twitch's refill).
    ``jitter`` adds up to that fraction of one interval to a wait, so that callers (or
    workers of a fleet) do not send in lock-step. Thread-safe and not tied to one event loop.
    """

    def __init__(self, *, window: float = TWITCH_WINDOW, jitter: float = 0.1,
                 random: Callable[[], float] = random.random) -> None:
        self.window = window
        self.jitter = jitter
        self._random = random
        self._lock = threading.Lock()
        self.level: float | None = None
        self.capacity: float | None = None
        self.rate: float | None = None
        self.updated = 0.0
        self.pending = 0.0
        self.blocked_until = 0.0

    def _refill(self, now: float) -> None:
        if self.level is None or self.rate is None:
            return
        top = (self.capacity if self.capacity is not None else math.inf) - self.pending
        self.level = min(top, self.level + self.rate * max(0.0, now - self.updated))
        self.updated = now

    async def reserve(self, cost: float, *, now: float) -> float:
        with self._lock:
            self.pending += cost
            blocked = max(0.0, self.blocked_until - now)
            if self.level is None:
                return blocked
            if self.rate is None:
                self.rate = (self.capacity or 1.0) / self.window
                self.updated = now
            self._refill(now)
            self.level -= cost
            wait = -self.level / self.rate
            if wait > 0:
                wait += self._random() * self.jitter * cost / self.rate
            return max(blocked, wait)

    async def settle(self, cost: float, status: int | None, headers: Mapping[str, str],
                     *, now: float) -> None:
        with self._lock:
            self.pending = max(0.0, self.pending - cost)
            signal = read_signal(headers, now=now)
            if signal is not None:
                self.capacity = signal.capacity
                if signal.rate is not None:
                    self.rate = signal.rate if self.rate is None else (
                        (1 - ESTIMATE_WEIGHT) * self.rate + ESTIMATE_WEIGHT * signal.rate)
                # The provider's count is the truth; points still in flight will be spent.
                self.level = signal.remaining - self.pending
                self.updated = now
            delay = None if status is None else rate_limit_delay(status, headers, now=now)
            if delay is not None:
                self.blocked_until = max(self.blocked_until, now + delay)
                if signal is None and self.level is not None:
                    self.level = min(self.level, -self.pending)


def bucket_for(runtime: Runtime, authentication: Authentication,
               operation: OperationSpec) -> RateLimitBucket | None:
    """The runtime's shared bucket for this authentication and the operation's declared
    ``rate_limit`` (None when the operation declares none: nothing to pace)."""
    name = operation.raw.get("rate_limit")
    if not isinstance(name, str):
        return None
    key = (authentication.service.id, authentication.name, name)
    bucket: RateLimitBucket | None = runtime.rate_limiters.get(key)
    if bucket is None:
        bucket = runtime.rate_limiters.setdefault(key, LocalBucket())
    return bucket

"""Reading the rate-limit signals a manifest declares, and waiting within bounds.

The core knows no provider: a manifest declares each bucket its operations name
(``rate_limits: {name: {style: ...}}``, a ``RateLimitSpec``), and the core implements the
generic styles:

* every bucket, and every operation without one: ``429`` with ``Retry-After`` in seconds
  (fractions such as ``2.0`` too) or as an HTTP date (RFC 9110 §10.2.3);
* ``reset_header``: a header with the points left and one with the Unix time at which the
  bucket is full again (not a delta), optionally one with its size (for example
  https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits);
* ``used_of_size``: one ``used/size`` header of a leaky bucket that leaks its size every
  ``leak_window`` seconds, at least ``min_leak_rate`` calls a second (for example
  https://shopify.dev/docs/api/admin-rest/usage/rate-limits);
* ``retry_after``: nothing more; a limit reported in a body (a GraphQL ``THROTTLED``, for
  example https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits) is the plugin
  handler's to read, which then spends a wait of the same budget through
  ``OperationContext.rate_limited``.

Two parts, with different jobs:

* **One shared bucket per authentication and per bucket the manifest declares**, held by
  the runtime (``bucket_for``), shared by every concurrent caller in it. Before each
  request a caller *reserves* a slot (``RateLimitBucket.reserve``) and sleeps until it;
  after the answer it *settles* with the API's headers, which correct the bucket's level,
  size and refill rate. Callers are thus paced one slot apart at the API's refill rate
  (plus a little jitter), instead of all sleeping until the bucket is full and waking
  together. Pacing waits never count as failures. ``RateLimitBucket`` is a Protocol: a
  fleet-wide bucket (Redis) can implement the same two calls.
* **The failure budget of one call** (``RateLimiter``): a 429 the bucket did not prevent
  (another process spends the same bucket, the API changed its limit) is waited out
  within a ``RateLimitPolicy``: each wait is capped (``max_wait``), their number bounded
  (``max_waits``), then ``RateLimitError`` naming the service, operation and
  authentication. Sleep and clock are injectable, so tests record the waits instead of
  sleeping.

``rate_limit_delay`` is pure: they read a response, by the bucket's
declaration, and say how long to wait.
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
from .._telemetry import record_rate_limit_wait

if TYPE_CHECKING:
    from .._manifest.model import Authentication, OperationSpec, RateLimitSpec, Service
    from .._runtime.runtime import Runtime

__all__ = [
    "LocalBucket",
    "RateLimitBucket",
    "RateLimitPolicy",
    "RateLimiter",
    "bucket_for",
    "declared_limit",
    "rate_limit_delay",
]

#: Wait used when a 429 carries no readable hint at all.
DEFAULT_429_WAIT = 1.0


@dataclass(frozen=True)
class RateLimitPolicy:
    """How long an operation call may wait for rate limits before ``RateLimitError``.

    ``max_waits`` bounds the waits of one call (all pages together); ``max_wait`` caps each
    wait in seconds (an API asking for longer is waited ``max_wait`` and asked again).
    ``sleep`` and ``clock`` (wall-clock epoch seconds, for reset headers and HTTP dates)
    exist for tests.
    """

    max_waits: int = 3
    max_wait: float = 60.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)
    clock: Callable[[], float] = field(default=time.time)


def declared_limit(service: Service, operation: OperationSpec) -> RateLimitSpec | None:
    """The declaration of the bucket ``operation`` names (None: it names none)."""
    name = operation.raw.get("rate_limit")
    return service.rate_limits.get(name) if isinstance(name, str) else None


def _header_float(headers: Mapping[str, str], name: str | None) -> float | None:
    if name is None:
        return None
    try:  # lower case: ``httpx.Headers`` ignores case, and plain mappings use lower case
        value = float(headers.get(name.lower(), ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _used_of_size(headers: Mapping[str, str], limit: RateLimitSpec) -> tuple[float, float] | None:
    if limit.style != "used_of_size" or limit.header is None:
        return None
    used, sep, size = headers.get(limit.header.lower(), "").partition("/")
    try:
        pair = (float(used), float(size))
    except ValueError:
        return None
    return pair if sep and math.isfinite(pair[0]) and 0 < pair[1] < math.inf else None


def _leak_rate(limit: RateLimitSpec, size: float) -> float:
    """Calls a second a ``used_of_size`` bucket of ``size`` leaks."""
    return max(limit.min_leak_rate, size / (limit.leak_window or 1.0))


def rate_limit_delay(status: int, headers: Mapping[str, str], *, now: float,
                     limit: RateLimitSpec | None = None) -> float | None:
    """Seconds to wait before retrying a response, or None when it is not rate-limited.

    Only ``429`` is a rate limit here (APIs document other 429 causes too; they get the
    same bounded waits and then a clear error). The most specific signal wins:
    ``Retry-After``, then by ``limit``'s style the reset time (one point's share of the time
    to full when the limit header says the size) or, for a ``used/size`` header, one call's
    worth of the leak, then ``DEFAULT_429_WAIT``.
    """
    if status != 429:
        return None
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    if retry_after is not None:
        return retry_after
    if limit is None:
        return DEFAULT_429_WAIT
    reset = _header_float(headers, limit.reset_header) \
        if limit.style == "reset_header" else None
    if reset is not None:
        size = _header_float(headers, limit.limit_header)
        if size is not None and size >= 1:
            # The bucket refills continuously: one point comes back after 1/size of the
            # time to full, so waiting until full (up to a window) would waste the rest.
            return max(0.0, reset - now) / size
        return max(0.0, reset - now)
    pair = _used_of_size(headers, limit)
    if pair is not None:
        return 1.0 / _leak_rate(limit, pair[1])
    return DEFAULT_429_WAIT


class RateLimiter:
    """The wait budget of one operation call (``policy.max_waits`` waits in all).

    ``wait`` sleeps ``min(delay, policy.max_wait)`` or, when the budget is spent, raises
    ``RateLimitError`` with the context given here and the provider's message. ``pause``
    sleeps for pacing (a shared bucket's reservation) without spending the budget, capped
    the same way.
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
        seconds = self.count(delay, status=status, provider_message=provider_message)
        await self.policy.sleep(seconds)

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
        # recorded here, where every 429 passes, whoever sleeps it (this limiter, or the
        # shared bucket, whose hold before the next request is recorded as pacing)
        record_rate_limit_wait(seconds, "retry_after")
        return seconds

    async def pause(self, delay: float) -> None:
        """Pace before the next request; does not count against ``max_waits``."""
        if delay > 0:
            seconds = min(delay, self.policy.max_wait)
            record_rate_limit_wait(seconds, "pacing")
            await self.policy.sleep(seconds)


# -- the shared bucket -----------------------------------------------------------------------

#: Seconds to refill fully when a declaration gives none (the loader requires ``window``
#: of a ``reset_header`` bucket; a ``RateLimitSpec`` built in code may lack it).
DEFAULT_WINDOW = 60.0
#: A refill rate is estimated from the reset time only this far ahead: the header is
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
    level, size and refill rate from what the API said. ``now`` is wall-clock epoch
    seconds (reset headers and HTTP dates are epochs). A fleet-wide implementation keeps
    this state in shared storage; both calls are async so it may do I/O.
    """

    async def reserve(self, cost: float, *, now: float) -> float: ...

    async def settle(self, cost: float, status: int | None, headers: Mapping[str, str],
                     *, now: float) -> None: ...


@dataclass(frozen=True)
class _Signal:
    remaining: float
    capacity: float | None
    rate: float | None  # points per second, when the headers let it be estimated


def read_signal(headers: Mapping[str, str], *, now: float,
                limit: RateLimitSpec | None) -> _Signal | None:
    """What an answer's headers say of the bucket ``limit`` declares, or None.

    ``reset_header``: the size (``limit_header``), the points left and the epoch when full
    (the deficit over the time to it is the refill rate). ``used_of_size``: ``used/size``,
    leaking at ``_leak_rate``. ``retry_after`` (or no declaration): nothing.
    """
    if limit is None:
        return None
    if limit.style == "reset_header":
        remaining = _header_float(headers, limit.remaining_header)
        if remaining is None:
            return None
        size = _header_float(headers, limit.limit_header)
        if size is not None and size <= 0:
            return None
        reset = _header_float(headers, limit.reset_header)
        rate = None
        if (size is not None and reset is not None and reset - now >= MIN_ESTIMATE_SPAN
                and remaining < size):
            rate = (size - remaining) / (reset - now)
        return _Signal(max(0.0, remaining), size, rate)
    pair = _used_of_size(headers, limit)
    if pair is not None:
        used, size = pair
        return _Signal(max(0.0, size - used), size, _leak_rate(limit, size))
    return None


class LocalBucket:
    """A ``RateLimitBucket`` in this process: a token bucket with reservations.

    ``limit`` is the bucket's declaration, which says how the answers report it (None:
    only ``429`` + ``Retry-After`` is read). The level is the API's bucket as last
    reported, refilled at the estimated rate, minus the points reserved by callers whose
    answer has not come back yet; it may go negative, and a caller then waits until the
    refill covers its reservation. Reservations are taken in turn under a lock, so
    concurrent callers get slots one refill interval apart rather than one wake-up for all.
    Before the first answer the level is unknown and nothing waits (the first answers teach
    the bucket). A 429 holds every caller for the wait it asks (``rate_limit_delay``).
    ``jitter`` adds up to that fraction of one interval to a wait, so that callers (or
    workers of a fleet) do not send in lock-step. Thread-safe and not tied to one event loop.
    """

    def __init__(self, limit: RateLimitSpec | None = None, *, jitter: float = 0.1,
                 random: Callable[[], float] = random.random) -> None:
        self.limit = limit
        self.window = (limit.window if limit is not None and limit.window else
                       DEFAULT_WINDOW)
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
            signal = read_signal(headers, now=now, limit=self.limit)
            if signal is not None:
                self.capacity = signal.capacity
                if signal.rate is not None:
                    self.rate = signal.rate if self.rate is None else (
                        (1 - ESTIMATE_WEIGHT) * self.rate + ESTIMATE_WEIGHT * signal.rate)
                # The provider's count is the truth; points still in flight will be spent.
                self.level = signal.remaining - self.pending
                self.updated = now
            delay = None if status is None else rate_limit_delay(status, headers, now=now,
                                                                 limit=self.limit)
            if delay is not None:
                self.blocked_until = max(self.blocked_until, now + delay)
                if signal is None and self.level is not None:
                    self.level = min(self.level, -self.pending)


def bucket_for(runtime: Runtime, authentication: Authentication,
               operation: OperationSpec) -> RateLimitBucket | None:
    """The runtime's shared bucket for this authentication and the operation's
    ``rate_limit`` (None when the operation names none: nothing to pace), reading the
    answers as the service's ``rate_limits`` declares that bucket."""
    name = operation.raw.get("rate_limit")
    if not isinstance(name, str):
        return None
    key = (authentication.service.id, authentication.name, name)
    bucket: RateLimitBucket | None = runtime.rate_limiters.get(key)
    if bucket is None:
        limit = declared_limit(authentication.service, operation)
        bucket = runtime.rate_limiters.setdefault(key, LocalBucket(limit))
    return bucket

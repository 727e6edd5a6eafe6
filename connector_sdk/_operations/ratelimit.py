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

``rate_limit_delay`` and ``pace_delay`` are pure: they read a response and say how long to
wait. ``RateLimiter`` applies a ``RateLimitPolicy`` to one
operation call: each wait is capped (``max_wait``), the number of waits is bounded
(``max_waits``), and when the budget is spent it raises ``RateLimitError`` naming the
service, operation and authentication. Sleep and clock are injectable, so tests record the
waits instead of sleeping.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import RateLimitError
from .._http.retry import parse_retry_after

__all__ = [
    "RateLimitPolicy",
    "RateLimiter",
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
    ``Retry-After``, then Twitch's ``Ratelimit-Reset`` epoch, then a full Shopify call
    limit (one leak's worth), then ``DEFAULT_429_WAIT``.
    """
    if status != 429:
        return None
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    if retry_after is not None:
        return retry_after
    reset = _header_float(headers, "ratelimit-reset")
    if reset is not None:
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
        await self.policy.sleep(seconds)

    async def pause(self, delay: float) -> None:
        """Pace before the next request; does not count against ``max_waits``."""
        if delay > 0:
            await self.policy.sleep(min(delay, self.policy.max_wait))

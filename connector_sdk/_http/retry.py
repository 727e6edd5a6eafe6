"""When to ask the token endpoint again, and how long to wait first: pure policy.

The token layer must not turn a provider's bad minute into a storm. This module only computes:
whether a failure may be retried, how long to back off (exponential, full jitter), how to read
``Retry-After`` and how long to fail fast afterwards. The token manager applies it with one
request in flight per credential, so the numbers here bound the requests *per burst*, not per
caller. Nothing here sleeps or does I/O; randomness and the wall clock are parameters, so tests
are deterministic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = [
    "PERMANENT_OAUTH_ERRORS",
    "RetryPolicy",
    "backoff_delay",
    "failure_cooldown",
    "is_retryable_status",
    "parse_retry_after",
    "retry_delay",
]

#: RFC 6749 §5.2 error codes that no retry can fix: the configuration must change.
PERMANENT_OAUTH_ERRORS = frozenset(
    {
        "invalid_client",
        "invalid_grant",
        "invalid_scope",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_request",
    }
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the token manager retries a token request and how long it then fails fast.

    ``max_attempts`` counts the first request (3 = one request and two retries). Backoff before
    retry *n* is uniform in ``[0, min(max_delay, base_delay * 2**(n-1))]`` (full jitter, so
    many processes that failed together do not retry together). A ``Retry-After`` longer than
    ``retry_after_cap`` is not waited for inside a call: the call fails and the cooldown
    applies. ``permanent_cooldown`` is how long a 4xx (bad client, bad scope) answer is replayed
    without asking again; ``transient_cooldown`` how long calls fail fast after the retries for
    timeouts, connection errors and 5xx are used up, before one probe request is allowed.
    """

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 30.0
    permanent_cooldown: float = 30.0
    transient_cooldown: float = 5.0
    max_cooldown: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        for name in (
            "base_delay",
            "max_delay",
            "retry_after_cap",
            "permanent_cooldown",
            "transient_cooldown",
            "max_cooldown",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"RetryPolicy.{name} must be a finite number >= 0")


def is_retryable_status(status: int) -> bool:
    """True for answers a later identical request may get past: 408, 425, 429 and 5xx."""
    return status in (408, 425, 429) or 500 <= status <= 599


def backoff_delay(
    policy: RetryPolicy, attempt: int, *, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): full jitter."""
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** max(0, attempt - 1))
    return ceiling * rng()


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds from ``now`` (wall-clock epoch) that a ``Retry-After`` value asks to wait.

    Accepts delta-seconds, fractional seconds as Shopify sends (``2.0``) and an HTTP date
    (RFC 9110 §10.2.3). A date in the past gives 0. Anything unreadable, negative or not finite
    gives ``None``, and the caller falls back to its own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without zone is read as GMT too
        return None
    return max(0.0, when.timestamp() - now)


def retry_delay(
    policy: RetryPolicy,
    attempt: int,
    *,
    retry_after: float | None,
    rng: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` when no attempt may follow.

    ``attempt`` is the 1-based number of the attempt that just failed with a retryable
    outcome. A server's ``Retry-After`` is honoured exactly when it is within the cap and
    refused (``None``) when it is beyond it; without one, full-jitter backoff.
    """
    if attempt >= policy.max_attempts:
        return None
    if retry_after is not None:
        return retry_after if retry_after <= policy.retry_after_cap else None
    return backoff_delay(policy, attempt, rng=rng)


def failure_cooldown(
    policy: RetryPolicy, *, permanent: bool, retry_after: float | None = None
) -> float:
    """Seconds during which the same request fails fast after a final failure.

    Permanent failures (4xx) use ``permanent_cooldown``. Transient ones use
    ``transient_cooldown``, or the server's ``Retry-After`` when that is longer, never more
    than ``max_cooldown``.
    """
    if permanent:
        return min(policy.permanent_cooldown, policy.max_cooldown)
    wait = policy.transient_cooldown
    if retry_after is not None:
        wait = max(wait, retry_after)
    return min(wait, policy.max_cooldown)

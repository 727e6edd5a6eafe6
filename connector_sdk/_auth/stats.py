"""The token manager's counters (``TokenManager.stats``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TokenStats"]


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

"""A clock that moves only when a test moves it, and sleeps that move it instead of waiting.

Everything in the SDK that reads time takes the clock as a parameter (the token manager's
``clock`` and ``wall_clock``, the emulators' ``clock``, the rate-limit ``sleep``), so a test
hands them one ``FakeClock`` and expiry, refresh margins and ``Retry-After`` waits happen in
microseconds, deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FakeClock", "Sleeps"]


class FakeClock:
    """Seconds (a float) that change only through ``advance`` or a recorded sleep.

    Calling it returns ``now``, so it stands in for ``time.time`` or ``time.monotonic``. The
    default start is a plausible epoch time (June 2025), so wall-clock code that formats
    dates works; a monotonic consumer does not care where it starts.
    """

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``."""
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """A ``time.sleep`` that moves the clock instead of waiting."""
        self.advance(max(0.0, seconds))


@dataclass
class Sleeps:
    """An async ``sleep`` (what ``RateLimitPolicy``/``run_workflow`` accept) that records each
    wait in ``calls`` and, given a ``clock``, moves it by that much instead of waiting."""

    clock: FakeClock | None = None
    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)

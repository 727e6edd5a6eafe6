"""The runtime's shared rate-limit bucket: callers of one authentication are paced at the
provider's refill rate, learnt from its headers. (A whole foreach over the bucket, with no
failure and no RateLimitError: tests/benchmarks/test_ratelimit_foreach.py.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connector_sdk._operations.ratelimit import LocalBucket

from .shipped_limits import SHOPIFY_REST, TWITCH

pytestmark = pytest.mark.timeout(30)

NOW = 1_800_000_000.0


def reserve(bucket: LocalBucket, now: float = NOW) -> float:
    return asyncio.run(bucket.reserve(1.0, now=now))


def settle(bucket: LocalBucket, status: int, headers: dict[str, str],
           now: float = NOW) -> None:
    asyncio.run(bucket.settle(1.0, status, httpx.Headers(headers), now=now))


def test_a_bucket_knows_nothing_before_the_first_answer_and_lets_callers_through() -> None:
    bucket = LocalBucket()
    assert [reserve(bucket) for _ in range(5)] == [0.0] * 5


def test_concurrent_callers_get_slots_one_refill_interval_apart() -> None:
    bucket = LocalBucket(TWITCH, random=lambda: 0.0)
    reserve(bucket)
    # Twitch: 10 points, none left, full again in 10 s: one point a second
    settle(bucket, 200, {"Ratelimit-Limit": "10", "Ratelimit-Remaining": "0",
                         "Ratelimit-Reset": str(int(NOW) + 10)})
    waits = [reserve(bucket) for _ in range(4)]
    assert waits == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_jitter_adds_at_most_a_tenth_of_an_interval() -> None:
    bucket = LocalBucket(TWITCH, random=lambda: 1.0)
    reserve(bucket)
    settle(bucket, 200, {"Ratelimit-Limit": "10", "Ratelimit-Remaining": "0",
                         "Ratelimit-Reset": str(int(NOW) + 10)})
    assert reserve(bucket) == pytest.approx(1.1)


def test_the_providers_remaining_count_corrects_the_level() -> None:
    bucket = LocalBucket(TWITCH, random=lambda: 0.0)
    reserve(bucket)
    settle(bucket, 200, {"Ratelimit-Limit": "10", "Ratelimit-Remaining": "0",
                         "Ratelimit-Reset": str(int(NOW) + 10)})
    reserve(bucket)
    settle(bucket, 200, {"Ratelimit-Limit": "10", "Ratelimit-Remaining": "5",
                         "Ratelimit-Reset": str(int(NOW) + 5)})
    assert [reserve(bucket) for _ in range(5)] == [0.0] * 5
    assert reserve(bucket) > 0


def test_a_429_retry_after_holds_every_caller() -> None:
    bucket = LocalBucket()
    reserve(bucket)
    settle(bucket, 429, {"Retry-After": "3"})
    assert [reserve(bucket, NOW + 1) for _ in range(3)] == [2.0, 2.0, 2.0]
    assert reserve(bucket, NOW + 3) == 0.0


def test_shopify_call_limit_paces_at_the_documented_leak() -> None:
    bucket = LocalBucket(SHOPIFY_REST, random=lambda: 0.0)
    reserve(bucket)
    settle(bucket, 200, {"X-Shopify-Shop-Api-Call-Limit": "40/40"})
    assert reserve(bucket) == pytest.approx(0.5)  # 2 calls a second

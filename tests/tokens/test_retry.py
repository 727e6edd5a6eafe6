"""The retry policy's pure functions: backoff with full jitter, Retry-After, cooldowns."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from connector_sdk._http.retry import (
    RetryPolicy,
    backoff_delay,
    failure_cooldown,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1.0), ("2.0", 2.0), ("0.25", 0.25), (" 3 ", 3.0), ("0", 0.0)],
)
def test_retry_after_seconds_including_fractions(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_http_date_is_seconds_from_now():
    assert parse_retry_after(formatdate(NOW + 7, usegmt=True), now=NOW) == pytest.approx(7)


def test_retry_after_date_in_the_past_is_zero():
    assert parse_retry_after(formatdate(NOW - 60, usegmt=True), now=NOW) == 0


@pytest.mark.parametrize("value", [None, "", "soon", "-1", "nan", "inf", "Mon, 99 Foo"])
def test_unreadable_retry_after_is_none(value):
    assert parse_retry_after(value, now=NOW) is None


def test_backoff_is_full_jitter_below_an_exponential_ceiling():
    policy = RetryPolicy(base_delay=0.5, max_delay=8)
    assert backoff_delay(policy, 1, rng=lambda: 1.0) == 0.5
    assert backoff_delay(policy, 3, rng=lambda: 1.0) == 2.0
    assert backoff_delay(policy, 10, rng=lambda: 1.0) == 8.0
    assert backoff_delay(policy, 3, rng=lambda: 0.0) == 0.0


def test_retry_delay_stops_after_max_attempts():
    policy = RetryPolicy(max_attempts=3)
    assert retry_delay(policy, 1, retry_after=None, rng=lambda: 0.5) is not None
    assert retry_delay(policy, 2, retry_after=None, rng=lambda: 0.5) is not None
    assert retry_delay(policy, 3, retry_after=None, rng=lambda: 0.5) is None


def test_retry_after_is_honoured_within_the_cap_and_refused_beyond():
    policy = RetryPolicy(retry_after_cap=30)
    assert retry_delay(policy, 1, retry_after=1.5) == 1.5
    assert retry_delay(policy, 1, retry_after=31) is None


def test_cooldowns():
    policy = RetryPolicy(permanent_cooldown=30, transient_cooldown=5, max_cooldown=300)
    assert failure_cooldown(policy, permanent=True) == 30
    assert failure_cooldown(policy, permanent=False) == 5
    assert failure_cooldown(policy, permanent=False, retry_after=120) == 120
    assert failure_cooldown(policy, permanent=False, retry_after=1e6) == 300


@pytest.mark.parametrize(("status", "retryable"),
                         [(500, True), (502, True), (503, True), (429, True), (408, True),
                          (400, False), (401, False), (403, False), (404, False)])
def test_retryable_statuses(status, retryable):
    assert is_retryable_status(status) is retryable


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=-1)

"""A foreach over the provider's bucket finishes with no failed item and no RateLimitError,
run by the benchmark's own runner (benchmarks/ratelimit_foreach.py) on a small fast bucket.
No time is judged: the benchmark prints the ratio to the time the bucket allows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from connector_sdk import RateLimitPolicy

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from ratelimit_foreach import run_foreach


@pytest.mark.timeout(120)
def test_foreach_over_the_bucket_has_no_failure_and_no_rate_limit_error(tmp_path: Path) -> None:
    # 300 items against 100 points refilled over 2 s: 200 of them must wait for the refill.
    # max_waits=0: one 429 would fail its item, so pacing must avoid every 429 and must not
    # itself count as a wait.
    run = run_foreach(300, limit=100, window=2.0, concurrency=50, home=tmp_path,
                      policy=RateLimitPolicy(max_waits=0))
    assert run["status"] == "succeeded"
    assert run["succeeded"] == 300 and run["failed"] == 0
    assert run["rate_limit_errors"] == 0
    assert run["responses_429"] == 0 and run["responses_200"] == 300

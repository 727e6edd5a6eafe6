"""Fleet-wide single flight on a real Redis: worker processes x concurrent asyncio calls
against one counting token endpoint, cold, after expiry, with a worker killed holding the
lease, and through a Redis outage."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_service import Fleet, TokenEndpoint
from servers import RedisServer

from connector_sdk._stores.crypto import generate_key_text

pytestmark = pytest.mark.slow


@pytest.fixture
def spec(tmp_path: Path, canary: str) -> dict[str, Any]:
    return {"home": str(tmp_path / "home"), "key": generate_key_text(), "secret": canary,
            "calls": 50, "rounds": [0.0]}


def patient(url: str) -> str:
    """``url`` with generous Redis timeouts: the test machine is loaded, and a timeout would
    (rightly) cost an extra token request that these tests count."""
    return f"{url}?socket_timeout=10&socket_connect_timeout=10"


def endpoint(**options: Any) -> Iterator[TokenEndpoint]:
    server = TokenEndpoint(**options)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def tokens() -> Iterator[TokenEndpoint]:
    yield from endpoint()


def run_fleet(directory: Path, spec: dict[str, Any], count: int) -> list[dict[str, Any]]:
    fleet = Fleet(directory, spec, count, dict(os.environ))
    try:
        fleet.start()
        results = fleet.results()
    finally:
        fleet.kill()
    outcomes = []
    for code, outcome, err in results:
        assert code == 0, err[-3000:]
        assert outcome is not None
        assert spec["secret"] not in err
        outcome["warnings"] = [line for line in err.splitlines() if "WARNING" in line]
        outcomes.append(outcome)
    return outcomes


def assert_every_call_succeeded(outcomes: list[dict[str, Any]], calls: int) -> None:
    failed = [error for outcome in outcomes for error in outcome["errors"]]
    assert not failed, failed[:5]
    assert sum(outcome["ok"] for outcome in outcomes) == calls


def test_a_cold_fleet_makes_exactly_one_token_request(
    tmp_path: Path, spec: dict[str, Any], tokens: TokenEndpoint, redis_url: str
) -> None:
    spec.update(port=tokens.port, cache=patient(redis_url))
    outcomes = run_fleet(tmp_path / "fleet", spec, 8)
    assert_every_call_succeeded(outcomes, 8 * 50)
    print(f"8 workers x 50 calls, cold: {tokens.requests} token request(s)")
    assert tokens.requests == 1, [o["warnings"] for o in outcomes]


def test_just_after_expiry_the_fleet_makes_exactly_one_more(
    tmp_path: Path, spec: dict[str, Any], redis_url: str
) -> None:
    for server in endpoint(expires_in=12):  # the 10 s floor, plus a 1.2 s refresh margin
        # round two starts just after the token is due (10.8 s) and its Redis entry expired
        spec.update(port=server.port, cache=patient(redis_url), rounds=[0.0, 12.5])
        outcomes = run_fleet(tmp_path / "fleet", spec, 8)
        assert_every_call_succeeded(outcomes, 8 * 50 * 2)
        print(f"8 workers x 50 calls, cold then after expiry: {server.requests} token "
              f"requests")
        assert server.requests == 2, [o["warnings"] for o in outcomes]


def test_a_worker_killed_holding_the_lease_delays_the_others_by_the_lease_ttl_only(
    tmp_path: Path, spec: dict[str, Any], redis_url: str
) -> None:
    for server in endpoint(hang_first=True):
        spec.update(port=server.port, cache=patient(redis_url), lease_ttl=3.0,
                    lease_wait=60.0)
        victim = Fleet(tmp_path / "victim", spec, 1, dict(os.environ))
        victim.start()
        assert server.first_seen.wait(120), "the first worker never asked for a token"
        others = Fleet(tmp_path / "others", spec, 4, dict(os.environ))
        others.wait_ready()
        os.kill(victim.processes[0].pid, signal.SIGKILL)  # holding the lease, mid-request
        victim.kill()
        begin = time.monotonic()
        others.go.touch()
        results = others.results()
        waited = time.monotonic() - begin
        outcomes = [outcome for code, outcome, err in results if code == 0 and outcome]
        assert len(outcomes) == 4, [err[-2000:] for _, _, err in results]
        assert_every_call_succeeded(outcomes, 4 * 50)
        print(f"lease TTL 3 s: the others had their token after {waited:.1f} s, "
              f"{server.requests} token requests")
        assert server.requests == 2  # the killed worker's, then one for everyone else
        assert waited < 3.0 + 30.0, "the others waited far longer than the lease TTL"


def test_a_redis_outage_costs_token_requests_and_one_warning_never_a_call(
    tmp_path: Path, spec: dict[str, Any], tokens: TokenEndpoint, own_redis: RedisServer
) -> None:
    spec.update(port=tokens.port, cache=own_redis.url, calls=30)
    counts = []
    before = run_fleet(tmp_path / "up", spec, 3)
    counts.append(tokens.requests)
    own_redis.stop()
    during = Fleet(tmp_path / "down", spec, 3, dict(os.environ))
    during.start()
    results = during.results()
    counts.append(tokens.requests)
    own_redis.start()  # back, and empty: it kept nothing
    after = run_fleet(tmp_path / "back", spec, 3)
    counts.append(tokens.requests)
    outcomes = [outcome for _, outcome, _ in results]
    for code, _, err in results:
        assert code == 0, err[-3000:]
        assert err.count("is unreachable") == 1, err[-3000:]  # one warning per outage
    assert_every_call_succeeded([*before, *[o for o in outcomes if o], *after], 9 * 30)
    print(f"token requests: {counts[0]} with Redis, {counts[1] - counts[0]} during the "
          f"outage (3 workers on their own), {counts[2] - counts[1]} after it came back")
    assert counts[0] == 1
    assert 1 <= counts[1] - counts[0] <= 3
    assert counts[2] - counts[1] == 1

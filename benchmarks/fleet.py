"""A fleet of workers: the shared Redis token cache against per-process caches.

    python benchmarks/fleet.py [--quick] [--redis URL] [--json PATH]

Section A, the cold start: 8 worker processes x 50 concurrent asyncio API calls against one
counting token endpoint (tests/fleet/fleet_service.py), once with every worker on the shared
Redis cache and once with each on its own memory cache (the baseline a user has without
Redis), interleaved over several rounds. Prints token requests and wall time (go signal to
the last call answered), medians, and their ratios.

Section B, the warm path: one process, one runtime with the memory cache and one with the
Redis cache, the same loopback API; warm ``get_token`` and warm API calls, interleaved in
the same run; prints medians per call, the paired ratio Redis/memory, and the Redis round
trips the warm calls cost (none: the manager holds a local copy of the fresh token).

Redis is ``--redis``, else ``CONNECTOR_SDK_TEST_REDIS_URL``, else a ``redis-server`` this
script starts on a free loopback port (``bash scripts/services install`` installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fleet"))

from fleet_service import Fleet, FleetPlugin, TokenEndpoint  # noqa: E402
from servers import RedisServer  # noqa: E402

from connector_sdk import Runtime  # noqa: E402
from connector_sdk._stores.crypto import generate_key_text  # noqa: E402


def cold_round(directory: Path, spec: dict[str, Any], workers: int) -> tuple[int, float]:
    """(token requests, wall seconds) of one cold start of ``workers`` processes."""
    endpoint = TokenEndpoint()
    try:
        fleet = Fleet(directory, {**spec, "port": endpoint.port}, workers, dict(os.environ))
        try:
            began = fleet.start()
            results = fleet.results()
        finally:
            fleet.kill()
        for code, outcome, err in results:
            if code != 0 or outcome is None or outcome["failed"]:
                raise SystemExit(f"a worker failed: {err[-2000:]}")
        done = max(began + max(o["rounds"]) for _, o, _ in results if o)
        return endpoint.requests, done - began
    finally:
        endpoint.close()


def section_cold(redis_url: str, *, workers: int, calls: int, rounds: int) -> dict[str, Any]:
    samples: dict[str, dict[str, list[float]]] = {
        "shared Redis cache": {"requests": [], "wall": []},
        "per-process caches": {"requests": [], "wall": []},
    }
    base = Path(tempfile.mkdtemp(prefix="connector-sdk-fleet-bench-"))
    for n in range(rounds):
        for name, cache in (("shared Redis cache", f"{redis_url}?socket_timeout=10"),
                            ("per-process caches", None)):
            prefix = f"b{n}{'r' if cache else 'm'}"
            spec = {"home": str(base / prefix / "home"), "key": generate_key_text(),
                    "secret": "bench-secret", "calls": calls, "rounds": [0.0],
                    "cache": cache}
            requests, wall = cold_round(base / prefix, spec, workers)
            samples[name]["requests"].append(requests)
            samples[name]["wall"].append(wall)
    print(f"\nA. cold start: {workers} worker processes x {calls} concurrent calls, "
          f"{rounds} interleaved rounds (medians)")
    print(f"{'':<22}{'token requests':>16}{'wall time':>12}")
    for name, figures in samples.items():
        print(f"{name:<22}{statistics.median(figures['requests']):>16.0f}"
              f"{statistics.median(figures['wall']):>11.2f}s")
    shared, alone = samples["shared Redis cache"], samples["per-process caches"]
    ratio_requests = statistics.median(shared["requests"]) / statistics.median(alone["requests"])
    ratio_wall = statistics.median(
        [s / a for s, a in zip(shared["wall"], alone["wall"], strict=True)])
    print(f"shared / per-process: token requests x{ratio_requests:.3f}, "
          f"wall time x{ratio_wall:.2f} (paired)")
    return {"samples": samples, "ratio_requests": ratio_requests, "ratio_wall": ratio_wall}


def section_warm(redis_url: str, *, calls: int, rounds: int) -> dict[str, Any]:
    endpoint = TokenEndpoint(delay=0.0)
    home = tempfile.mkdtemp(prefix="connector-sdk-fleet-bench-")
    environ = {"CONNECTOR_SDK_HOME": home, "CONNECTOR_SDK_SECRET_KEY": generate_key_text()}
    runtimes = {
        "memory cache": Runtime(environ=environ, allow_loopback=True,
                                extra_plugins={"fleet": FleetPlugin(endpoint.port)}),
        "Redis cache": Runtime(environ=environ, allow_loopback=True, token_cache=redis_url,
                               extra_plugins={"fleet": FleetPlugin(endpoint.port)}),
    }
    auths = {name: rt.authentication("fleet", {"client_id": "bench", "client_secret": "s"},
                                     name=f"warm-{name}") for name, rt in runtimes.items()}
    tokens: dict[str, list[float]] = {name: [] for name in runtimes}
    api: dict[str, list[float]] = {name: [] for name in runtimes}
    cache = runtimes["Redis cache"].tokens._cache
    try:
        for name, rt in runtimes.items():
            rt.get_token(auths[name])  # cold: one fetch each, not measured
        trips_before = cache.stats["round_trips"]  # type: ignore[attr-defined]

        async def api_round(name: str) -> float:
            async with runtimes[name].async_client(auths[name]) as client:
                await client.get("/api")  # connection warm-up
                began = time.perf_counter()
                for _ in range(calls):
                    (await client.get("/api")).raise_for_status()
                return (time.perf_counter() - began) / calls

        for _ in range(rounds):
            for name, rt in runtimes.items():
                began = time.perf_counter()
                for _ in range(calls * 20):
                    rt.get_token(auths[name])
                tokens[name].append((time.perf_counter() - began) / (calls * 20))
                api[name].append(asyncio.run(api_round(name)))
        trips = cache.stats["round_trips"] - trips_before  # type: ignore[attr-defined]
    finally:
        for rt in runtimes.values():
            rt.close()
        endpoint.close()
    print(f"\nB. warm path, one process, {rounds} interleaved rounds (medians per call)")
    print(f"{'':<16}{'get_token':>12}{'API call':>12}")
    for name in runtimes:
        print(f"{name:<16}{statistics.median(tokens[name]) * 1e6:>10.2f}us"
              f"{statistics.median(api[name]) * 1e6:>10.0f}us")
    token_ratio = statistics.median(
        [r / m for r, m in zip(tokens["Redis cache"], tokens["memory cache"], strict=True)])
    api_ratio = statistics.median(
        [r / m for r, m in zip(api["Redis cache"], api["memory cache"], strict=True)])
    print(f"Redis / memory (paired): get_token x{token_ratio:.2f}, API call x{api_ratio:.2f}; "
          f"Redis round trips during {rounds * calls * 21} warm calls: {trips}")
    return {"get_token": tokens, "api": api, "ratio_get_token": token_ratio,
            "ratio_api": api_ratio, "redis_round_trips": trips}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny workload: a smoke run")
    parser.add_argument("--redis", help="a Redis URL (default: start redis-server)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    url = args.redis or os.environ.get("CONNECTOR_SDK_TEST_REDIS_URL")
    server = None
    if not url:
        server = RedisServer().start()
        url = server.url
    try:
        quick = args.quick
        figures = {
            "cold": section_cold(url, workers=2 if quick else 8, calls=5 if quick else 50,
                                 rounds=1 if quick else 3),
            "warm": section_warm(url, calls=20 if quick else 300, rounds=2 if quick else 9),
        }
    finally:
        if server is not None:
            server.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

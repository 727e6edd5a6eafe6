"""Section 2: many callers on one credential: cold cache, just after expiry, after revocation.

For each contender (fresh clients, cold cache) ``tasks`` asyncio tasks and ``threads``
threads, all waiting on one start signal, each send one authenticated GET; the token endpoint
answers after ``token_latency`` (50 ms). Phases, in order, on the same clients:

* ``cold``: nothing cached. Wall time and the token requests the server counted.
* ``expired``: after sleeping past the tokens' lifetime (``expires_in``; every contender's
  refresh margin set to 10% of it, the SDK's own rule). Same figures.
* ``revoked``: the server revokes every token (the API answers 401 ``invalid_token``), then
  the same burst: how many calls succeeded and how many token requests followed.

A 1 ms heartbeat task measures the longest event-loop stall during each burst, and during a
single cold async call on its own (``one call``: the loop's stall while a token is fetched,
with no other work competing). Targets: exactly 1 token request per phase for connector-sdk
(one runtime's sync and async clients share one token), loop stall <= 20 ms, every call
succeeds after revocation with one new token.

    python benchmarks/concurrency.py [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from _common import median
from _contenders import RAW, SDK, Contender, Target, available, make
from _sections import Section, Table, judge
from _server import ServerProcess

PATH = "/items/1"


@dataclass
class Burst:
    wall: float
    token_requests: int
    succeeded: int
    callers: int
    max_stall: float


class Heartbeat:
    """The longest gap between 1 ms ticks of the event loop, while running."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last - 0.001)
            last = now

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._beat())
        await asyncio.sleep(0.005)  # settle: the first tick is not a stall
        self.max_gap = 0.0
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def burst(server: ServerProcess, contender: Contender, *, tasks: int,
                threads: int) -> Burst:
    """``tasks`` + ``threads`` callers start together; each sends one GET."""
    go_threads = threading.Event()
    go_tasks = asyncio.Event()
    statuses: list[int] = []
    lock = threading.Lock()

    def thread_call() -> None:
        go_threads.wait()
        try:
            contender.ensure()
            status = contender.client.get(PATH).status_code
        except Exception:
            status = 0
        with lock:
            statuses.append(status)

    async def task_call() -> None:
        await go_tasks.wait()
        try:
            await contender.aensure_token()
            status = (await contender.async_client.get(PATH)).status_code
        except Exception:
            status = 0
        statuses.append(status)

    workers = [threading.Thread(target=thread_call, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    coroutines = [asyncio.ensure_future(task_call()) for _ in range(tasks)]
    server.control("reset")
    loop = asyncio.get_running_loop()
    async with Heartbeat() as heartbeat:
        started = time.perf_counter()
        go_threads.set()
        go_tasks.set()
        await asyncio.gather(*coroutines)
        await loop.run_in_executor(None, lambda: [w.join(120) for w in workers])
        wall = time.perf_counter() - started
    stats = server.control("stats")
    return Burst(wall=wall, token_requests=stats["token_requests"],
                 succeeded=statuses.count(200), callers=tasks + threads,
                 max_stall=heartbeat.max_gap)


async def one_call_stall(contender: Contender) -> float:
    """The loop's longest stall during one cold async call (the token fetch dominates)."""
    async with Heartbeat() as heartbeat:
        await contender.aensure_token()
        (await contender.async_client.get(PATH)).raise_for_status()
    return heartbeat.max_gap


async def _round(server: ServerProcess, names: list[str], *, tasks: int, threads: int,
                 expires_in: float) -> dict[str, dict[str, Any]]:
    target = Target(server.port, early_expiry=expires_in * 0.1)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        figures: dict[str, Any] = {}
        contender = make(name, target)
        try:
            figures["one call stall"] = await one_call_stall(contender)
        finally:
            await contender.aclose()
        contender = make(name, target)
        try:
            figures["cold"] = asdict(await burst(server, contender, tasks=tasks,
                                                 threads=threads))
            await asyncio.sleep(expires_in)
            figures["expired"] = asdict(await burst(server, contender, tasks=tasks,
                                                    threads=threads))
            if name != RAW:  # the floor's hard-coded token cannot recover from revocation
                server.control("revoke")
                figures["revoked"] = asdict(await burst(server, contender, tasks=tasks,
                                                        threads=threads))
        finally:
            await contender.aclose()
        results[name] = figures
    return results


def run(server: ServerProcess, *, quick: bool = False) -> Section:
    tasks, threads, rounds, expires_in = (10, 2, 1, 1.0) if quick else (200, 16, 3, 3.0)
    latency = 0.05
    names, missing = available()
    server.control("config", token_latency=latency, expires_in=expires_in)
    try:
        per_round = [asyncio.run(_round(server, names, tasks=tasks, threads=threads,
                                        expires_in=expires_in)) for _ in range(rounds)]
    finally:
        server.control("config", token_latency=0, expires_in=3600)
    section = Section("concurrency", figures={
        "tasks": tasks, "threads": threads, "rounds": rounds, "token_latency": latency,
        "expires_in": expires_in, "missing": missing, "rounds_figures": per_round})

    def med(name: str, phase: str, key: str) -> float:
        return median([r[name][phase][key] for r in per_round])

    def worst(name: str, phase: str, key: str) -> float:
        return max(r[name][phase][key] for r in per_round)

    for phase in ("cold", "expired", "revoked"):
        rows = []
        for name in names:
            if phase not in per_round[0][name]:
                rows.append((name, "-", "-", "-", "-", "-"))
                continue
            floor = med(RAW, phase, "wall") if phase != "revoked" else None
            wall = med(name, phase, "wall")
            tokens = med(name, phase, "token_requests")
            rows.append((
                name, f"{wall * 1000:.0f}", f"{wall / floor:.2f}x" if floor else "-",
                f"{tokens:.0f} (max {worst(name, phase, 'token_requests'):.0f})",
                f"{min(r[name][phase]['succeeded'] for r in per_round)}/{tasks + threads}",
                f"{med(name, phase, 'max_stall') * 1000:.1f}"))
        section.tables.append(Table(
            f"2. {tasks} tasks + {threads} threads together, {phase}, token latency"
            f" {latency * 1000:.0f} ms (median of {rounds})",
            ("contender", "wall ms", "vs raw", "token requests", "succeeded (worst)",
             "loop stall ms"), rows))
    section.tables.append(Table(
        f"2. Event-loop stall during one cold async call (median of {rounds})",
        ("contender", "max stall ms"),
        [(n, f"{median([r[n]['one call stall'] for r in per_round]) * 1000:.1f}")
         for n in names]))
    for phase in ("cold", "expired", "revoked"):
        most = worst(SDK, phase, "token_requests")
        section.targets.append(judge(
            f"concurrency {phase}: connector-sdk token requests (worst round)", f"{most:.0f}",
            "== 1", most == 1, timed=False, quick=quick))
    lost = min(r[SDK]["revoked"]["succeeded"] for r in per_round)
    section.targets.append(judge(
        "after revocation: connector-sdk calls that succeeded (worst round)",
        f"{lost}/{tasks + threads}", f"{tasks + threads}/{tasks + threads}",
        lost == tasks + threads, timed=False, quick=quick))
    stall = max(r[SDK]["one call stall"] for r in per_round)
    section.targets.append(judge(
        "loop stall while a token is fetched (connector-sdk, worst round)",
        f"{stall * 1000:.1f} ms", "<= 20 ms", stall <= 0.020, timed=True, quick=quick))
    if missing:
        section.notes.append("not installed (pip install -e '.[bench]'): " + ", ".join(missing))
    section.notes.append(
        "Authlib's sync and async clients keep separate tokens (2 token requests at least);"
        " it refuses to send without a token, so the token is fetched once before use, as"
        " its documentation shows (the harness used to let every caller fetch one: 216 token"
        " requests cold), then the client renews it itself.")
    return section


if __name__ == "__main__":
    from _sections import main_for

    main_for(run)

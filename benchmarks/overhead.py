"""Section 1: per-request overhead with a warm token, every contender on the same work.

Each round sends ``count`` sequential authenticated GETs per contender (order rotated each
round, so no contender always runs first), sync and async, over the loopback socket and
through an in-process transport (no socket: the library's own cost shows). Figures are the
median over rounds of the time per request, and the ratio of medians to raw httpx with a
hard-coded header (the floor). Target: connector-sdk <= 1.05x raw, and no slower than a peer.

    python benchmarks/overhead.py [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from _common import median
from _contenders import RAW, SDK, Contender, Target, available, make
from _sections import Section, Table, judge
from _server import AsyncInProcessTransport, BenchApp, InProcessTransport, ServerProcess

PATH = "/items/1"


def _time_sync(contender: Contender, count: int) -> float:
    get = contender.client.get
    started = time.perf_counter()
    for _ in range(count):
        if get(PATH).status_code != 200:
            raise RuntimeError(f"{contender.name}: a warm GET failed")
    return (time.perf_counter() - started) / count


async def _time_async(contender: Contender, count: int) -> float:
    get = contender.async_client.get
    started = time.perf_counter()
    for _ in range(count):
        if (await get(PATH)).status_code != 200:
            raise RuntimeError(f"{contender.name}: a warm GET failed")
    return (time.perf_counter() - started) / count


def _rotated(names: list[str], round_no: int) -> list[str]:
    shift = round_no % len(names)
    return names[shift:] + names[:shift]


async def _measure(target: Target, names: list[str], count: int,
                   rounds: int) -> dict[str, dict[str, list[float]]]:
    """``{"sync"|"async": {name: [seconds per request, one per round]}}``."""
    contenders = {name: make(name, target) for name in names}
    try:
        for contender in contenders.values():  # warm: token cached, connections open
            contender.ensure()
            await contender.aensure_token()
            for _ in range(20):
                contender.client.get(PATH).raise_for_status()
                (await contender.async_client.get(PATH)).raise_for_status()
        samples: dict[str, dict[str, list[float]]] = {"sync": {}, "async": {}}
        for round_no in range(rounds):
            for name in _rotated(names, round_no):
                gc.collect()
                samples["sync"].setdefault(name, []).append(
                    _time_sync(contenders[name], count))
                gc.collect()
                samples["async"].setdefault(name, []).append(
                    await _time_async(contenders[name], count))
        return samples
    finally:
        for contender in contenders.values():
            await contender.aclose()


def run(server: ServerProcess, *, quick: bool = False) -> Section:
    count, rounds = (50, 1) if quick else (2000, 7)
    names, missing = available()
    server.control("config", token_latency=0, expires_in=3600)
    app = BenchApp()
    targets = {
        "socket": Target(server.port),
        "in-process": Target(server.port, InProcessTransport(app), AsyncInProcessTransport(app)),
    }
    figures: dict[str, Any] = {"count": count, "rounds": rounds, "missing": missing,
                               "seconds_per_request": {}}
    section = Section("overhead", figures=figures)
    for where, target in targets.items():
        samples = asyncio.run(_measure(target, names, count, rounds))
        figures["seconds_per_request"][where] = samples
        for mode, by_name in samples.items():
            floor = median(by_name[RAW])
            rows = []
            for name in names:
                value = median(by_name[name])
                rows.append((name, f"{value * 1e6:.1f}", f"{(value - floor) * 1e6:+.1f}",
                             f"{value / floor:.3f}x"))
            section.tables.append(Table(
                f"1. Warm token, {count} sequential GETs, {mode}, {where} (median of {rounds})",
                ("contender", "us/request", "vs raw (us)", "ratio"), rows))
            ours = median(by_name[SDK]) / floor
            section.targets.append(judge(
                f"overhead {mode} {where}: connector-sdk / raw httpx", ours, "<= 1.05x",
                ours <= 1.05, timed=True, quick=quick))
            peers = [n for n in names if n not in (RAW, SDK)]
            if peers:
                best = min(median(by_name[n]) for n in peers)
                section.targets.append(judge(
                    f"overhead {mode} {where}: connector-sdk / fastest peer",
                    median(by_name[SDK]) / best, "<= 1.00x",
                    median(by_name[SDK]) <= best, timed=True, quick=quick))
    if missing:
        section.notes.append("not installed (pip install -e '.[bench]'): " + ", ".join(missing))
    return section


if __name__ == "__main__":
    from _sections import main_for

    main_for(run)

"""Section 1: per-request overhead with a warm token, every contender on the same work.

Each round sends ``count`` sequential authenticated GETs per contender (order rotated each
round, so no contender always runs first), sync and async, over the loopback socket and
through an in-process transport (no socket: the library's own cost shows). Rounds are short
(500 requests) and many (15), interleaved: figures are the median over rounds of the time per
request, and the median over rounds of the *per-round* ratio to raw httpx with a hard-coded
header (the floor), with its spread (min-max), in wall and in thread CPU time. The SDK runs
twice: with the peers' pool limits and as shipped (its default pool).
Targets: connector-sdk <= 1.05x raw (issue 11.4: <= 1.03x in process, <= 1.01x over the
socket), and no slower than a peer.

    python benchmarks/overhead.py [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from _common import median, paired, shown
from _contenders import RAW, SDK, SDK_DEFAULT, Contender, Target, available, make
from _sections import Section, Table, judge
from _server import AsyncInProcessTransport, BenchApp, InProcessTransport, ServerProcess

PATH = "/items/1"


def _time_sync(contender: Contender, count: int) -> tuple[float, float]:
    """``(wall, cpu)`` seconds per request; cpu is this thread's CPU time."""
    get = contender.client.get
    started, cpu = time.perf_counter(), time.thread_time()
    for _ in range(count):
        if get(PATH).status_code != 200:
            raise RuntimeError(f"{contender.name}: a warm GET failed")
    return (time.perf_counter() - started) / count, (time.thread_time() - cpu) / count


async def _time_async(contender: Contender, count: int) -> tuple[float, float]:
    get = contender.async_client.get
    started, cpu = time.perf_counter(), time.thread_time()
    for _ in range(count):
        if (await get(PATH)).status_code != 200:
            raise RuntimeError(f"{contender.name}: a warm GET failed")
    return (time.perf_counter() - started) / count, (time.thread_time() - cpu) / count


def _rotated(names: list[str], round_no: int) -> list[str]:
    shift = round_no % len(names)
    return names[shift:] + names[:shift]


async def _measure(target: Target, names: list[str], count: int,
                   rounds: int) -> dict[str, dict[str, dict[str, list[float]]]]:
    """``{"wall"|"cpu": {"sync"|"async": {name: [seconds per request, one per round]}}}``."""
    contenders = {name: make(name, target) for name in names}
    try:
        for contender in contenders.values():  # warm: token cached, connections open
            contender.ensure()
            await contender.aensure_token()
            for _ in range(20):
                contender.client.get(PATH).raise_for_status()
                (await contender.async_client.get(PATH)).raise_for_status()
        samples: dict[str, dict[str, dict[str, list[float]]]] = {
            "wall": {"sync": {}, "async": {}}, "cpu": {"sync": {}, "async": {}}}
        for round_no in range(rounds):
            for name in _rotated(names, round_no):
                for mode in ("sync", "async"):
                    gc.collect()
                    if mode == "sync":
                        wall, cpu = _time_sync(contenders[name], count)
                    else:
                        wall, cpu = await _time_async(contenders[name], count)
                    samples["wall"][mode].setdefault(name, []).append(wall)
                    samples["cpu"][mode].setdefault(name, []).append(cpu)
        return samples
    finally:
        for contender in contenders.values():
            await contender.aclose()


def run(server: ServerProcess, *, quick: bool = False) -> Section:
    count, rounds = (50, 1) if quick else (500, 15)
    names, missing = available()
    names.insert(names.index(SDK) + 1, SDK_DEFAULT)
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
        for mode in ("sync", "async"):
            walls, cpus = samples["wall"][mode], samples["cpu"][mode]
            floor = median(walls[RAW])
            rows = []
            for name in names:
                wall, cpu = median(walls[name]), median(cpus[name])
                rows.append((name, f"{wall * 1e6:.1f}", f"{(wall - floor) * 1e6:+.1f}",
                             shown(paired(walls[name], walls[RAW])), f"{cpu * 1e6:.1f}",
                             shown(paired(cpus[name], cpus[RAW]))))
            section.tables.append(Table(
                f"1. Warm token, {count} sequential GETs, {mode}, {where} ({rounds} paired"
                " rounds)", ("contender", "us/request", "vs raw (us)",
                             "ratio, median per round (min-max)", "CPU us/request",
                             "CPU ratio (min-max)"), rows))
            wanted = 1.03 if where == "in-process" else 1.01
            for sdk in (SDK, SDK_DEFAULT):
                ours = paired(walls[sdk], walls[RAW])
                ours_cpu = paired(cpus[sdk], cpus[RAW])
                section.targets.append(judge(
                    f"overhead {mode} {where}: {sdk} / raw httpx",
                    f"{shown(ours)}; CPU {shown(ours_cpu)}", f"<= {wanted:.2f}x",
                    ours[0] <= wanted, timed=True, quick=quick))
            peers = [n for n in names if n not in (RAW, SDK, SDK_DEFAULT)]
            if peers:
                best = min(peers, key=lambda n: median(walls[n]))
                ratio = paired(walls[SDK], walls[best])
                cpu_ratio = paired(cpus[SDK], cpus[best])
                section.targets.append(judge(
                    f"overhead {mode} {where}: connector-sdk / fastest peer ({best})",
                    f"{shown(ratio)}; CPU {shown(cpu_ratio)}", "<= 1.00x", ratio[0] <= 1.0,
                    timed=True, quick=quick))
    if missing:
        section.notes.append("not installed (pip install -e '.[bench]'): " + ", ".join(missing))
    return section


if __name__ == "__main__":
    from _sections import main_for

    main_for(run)

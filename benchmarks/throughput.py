"""Section 3: a 1,000-item ``foreach`` at concurrency 50 against raw httpx doing the same.

The workflow has one step, ``bench.get_item`` over the ``ids`` input (1,000 ids) with
``concurrency: 50``, run by ``run_workflow`` with a stored authentication. The floor is raw
httpx sending the same 1,000 GETs from an ``AsyncClient`` with a hard-coded token, at most 50
at a time (an ``asyncio.Semaphore``), parsing each JSON body as the runner does. A third
line sends the same GETs through the SDK's own ``async_client`` with the same semaphore, so
that the runner's cost (input checks, templates, results) shows apart from the auth layer's.
Same pool limits for all. Target: the workflow <= 1.15x raw httpx.

    python benchmarks/throughput.py [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any

import httpx
from _common import median
from _contenders import LIMITS, PARAMETERS, TIMEOUT, Target, make_runtime
from _sections import Section, Table, judge
from _server import ServerProcess

RAW = "raw httpx + Semaphore"
SDK_CLIENT = "connector-sdk async_client + Semaphore"
WORKFLOW = "connector-sdk workflow foreach"

WORKFLOW_TEXT = """\
workflow_version: 1
name: bench-foreach
inputs:
  ids: {type: array}
steps:
  - id: fetch
    operation: bench.get_item
    authentication: bench
    foreach: '{{ inputs.ids }}'
    concurrency: CONCURRENCY
    inputs:
      id: '{{ item }}'
"""


async def _semaphore_run(client: httpx.AsyncClient, ids: list[str], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(item: str) -> Any:
        async with gate:
            response = await client.get(f"/items/{item}")
            response.raise_for_status()
            return response.json()

    await asyncio.gather(*(one(i) for i in ids))


async def _measure(port: int, ids: list[str], concurrency: int, rounds: int,
                   home: Path) -> dict[str, list[float]]:
    from connector_sdk import load_workflow, run_workflow

    runtime = make_runtime(port, home=home)
    runtime.create_authentication("bench", "bench", PARAMETERS)
    workflow = load_workflow(WORKFLOW_TEXT.replace("CONCURRENCY", str(concurrency)),
                             file="bench-foreach.yaml", services=runtime.services)
    token = Target(port).fetch_token()
    raw = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api", limits=LIMITS,
                            timeout=TIMEOUT, headers={"Authorization": f"Bearer {token}"})
    sdk = runtime.async_client("bench")

    async def workflow_run() -> None:
        result = await run_workflow(runtime, workflow, {"ids": ids})
        if result.status != "succeeded":
            raise RuntimeError(f"foreach workflow ended {result.status}")

    calls = {RAW: lambda: _semaphore_run(raw, ids, concurrency),
             SDK_CLIENT: lambda: _semaphore_run(sdk, ids, concurrency),
             WORKFLOW: workflow_run}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    try:
        for name in calls:  # warm: token cached, connections open, validators built
            await calls[name]()
        order = list(calls)
        for round_no in range(rounds):
            shift = round_no % len(order)
            for name in order[shift:] + order[:shift]:
                gc.collect()
                started = time.perf_counter()
                await calls[name]()
                samples[name].append(time.perf_counter() - started)
    finally:
        await raw.aclose()
        await sdk.aclose()
        runtime.close()
    return samples


def run(server: ServerProcess, *, quick: bool = False) -> Section:
    count, concurrency, rounds = (40, 5, 1) if quick else (1000, 50, 7)
    server.control("config", token_latency=0, expires_in=3600)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        samples = asyncio.run(_measure(server.port, [str(i) for i in range(count)],
                                       concurrency, rounds, Path(home)))
    floor = median(samples[RAW])
    section = Section("throughput", figures={"count": count, "concurrency": concurrency,
                                             "rounds": rounds, "seconds": samples})
    section.tables.append(Table(
        f"3. foreach over {count} items at concurrency {concurrency} (median of {rounds})",
        ("how", "total ms", "items/s", "ratio"),
        [(name, f"{median(s) * 1000:.0f}", f"{count / median(s):.0f}",
          f"{median(s) / floor:.3f}x") for name, s in samples.items()]))
    ratio = median(samples[WORKFLOW]) / floor
    section.targets.append(judge("foreach workflow / raw httpx with a Semaphore", ratio,
                                 "<= 1.15x", ratio <= 1.15, timed=True, quick=quick))
    return section


if __name__ == "__main__":
    from _sections import main_for

    main_for(run)

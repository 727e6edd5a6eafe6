"""Section 5: peak RSS while streaming a paginated listing, against the item count.

Each measurement runs in a fresh child process (peak RSS, ``ru_maxrss``, only ever grows, so
one process per figure): the bench API serves ``N`` items, 100 per page, cursor-paginated.

* ``raw httpx pages``: the floor, a hand-written loop over pages with a hard-coded token.
* ``connector-sdk stream_items``: ``bench.list_items`` through ``stream_items``, each item
  counted and dropped.
* ``connector-sdk call_operation`` (collects every item into one list): for contrast; this
  one is expected to grow with N.

Then a workflow ``foreach`` (``bench.get_item`` per id, concurrency 50, through the bench
API in process, so that 100,000 calls take seconds, not minutes), 10,000 and 100,000 items:

* ``workflow foreach (report)``: ``run_workflow_sync``, every item's output kept in the report;
* ``workflow foreach --results-jsonl``: the same with ``on_result=JsonLinesSink(file)``
  (issue 11.5), which keeps no item output past 1,000 items.

Both hold the input list itself (100,000 ids); the difference is the results.

Target: streaming is flat in the item count: peak RSS at the largest N exceeds the smallest
by less than 5 MiB (the figures show the floor's growth beside ours); so is the streamed
workflow.

    python benchmarks/memory.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _sections import Section, Table, judge, unavailable
from _server import ServerProcess

RAW = "raw httpx pages"
STREAM = "connector-sdk stream_items"
COLLECT = "connector-sdk call_operation (collects)"
WF_REPORT = "workflow foreach (report)"
WF_STREAM = "workflow foreach --results-jsonl"
WORKFLOW = """
workflow_version: 1
inputs: {ids: {type: array}}
steps:
  - id: items
    operation: bench.get_item
    authentication: bench
    foreach: "{{ inputs.ids }}"
    concurrency: 50
    inputs: {id: "{{ item }}"}
"""


def _workflow_child(mode: str, port: int, items: int) -> int:
    import httpx
    from _contenders import PARAMETERS, make_runtime
    from _server import AsyncInProcessTransport, BenchApp, InProcessTransport

    class Yielding(httpx.AsyncBaseTransport):
        """The in-process API, yielding to the event loop once per request as a socket
        does: without it no call ever suspends, the loop never runs a cycle, and the
        cancelled timeout timers of finished calls pile up in its heap until the run ends
        (a cost of the harness, not of the SDK)."""

        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0)
            return await self.inner.handle_async_request(request)

    from connector_sdk import load_workflow, run_workflow_sync
    from connector_sdk._workflows.results import JsonLinesSink

    app = BenchApp()
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        runtime = make_runtime(port, home=Path(home), transport=InProcessTransport(app),
                               async_transport=Yielding(AsyncInProcessTransport(app)))
        try:
            runtime.create_authentication("bench", "bench", PARAMETERS)
            flow = load_workflow(WORKFLOW.encode(), file="<bench>", services=runtime.services)
            ids = {"ids": [str(i) for i in range(items)]}
            if mode == WF_REPORT:
                result = run_workflow_sync(runtime, flow, ids)
                seen = len(result.steps["items"].output or ())
            else:
                with JsonLinesSink(Path(home) / "results.jsonl") as sink:
                    result = run_workflow_sync(runtime, flow, ids, on_result=sink)
                seen = sink.lines
            if result.status != "succeeded":
                raise RuntimeError(f"{mode}: the run {result.status}: {result.error}")
            return seen
        finally:
            runtime.close()
FLAT_MIB = 5.0


async def _child(mode: str, port: int) -> int:
    from _contenders import PARAMETERS, Target, make_runtime

    if mode == RAW:
        import httpx

        token = Target(port).fetch_token()
        seen = 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            cursor: str | None = None
            while True:
                params = {"first": "100", **({"after": cursor} if cursor else {})}
                page = (await client.get("/items", params=params)).raise_for_status().json()
                seen += len(page["data"])
                cursor = page["pagination"]["cursor"]
                if not cursor:
                    return seen
    from connector_sdk._operations.calls import call_operation, stream_items

    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        runtime = make_runtime(port, home=Path(home))
        try:
            authentication = runtime.authentication("bench", PARAMETERS, name="bench")
            if mode == COLLECT:
                output = await call_operation(runtime, "bench.list_items", authentication,
                                              {"first": 100})
                return len(output["data"])
            seen = 0
            async for _ in stream_items(runtime, "bench.list_items", authentication,
                                        {"first": 100}):
                seen += 1
            return seen
        finally:
            runtime.close()


def peak_rss_kib() -> int:
    """This process's peak RSS. ``VmHWM`` rather than ``ru_maxrss``: Linux carries
    ``ru_maxrss`` across ``exec``, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort


def child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--items", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.child in (WF_REPORT, WF_STREAM):
        seen = _workflow_child(args.child, args.port, args.items)
    else:
        seen = asyncio.run(_child(args.child, args.port))
    print(json.dumps({"items": seen, "seconds": time.perf_counter() - started,
                      "peak_rss_kib": peak_rss_kib()}))


def _measure(server: ServerProcess, mode: str, items: int) -> dict[str, float]:
    server.control("config", list_total=items)
    done = subprocess.run([sys.executable, __file__, "--child", mode, "--port",
                           str(server.port), "--items", str(items)],
                          capture_output=True, text=True, check=False,
                          cwd=Path(__file__).parent, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {mode!r} failed: {done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["items"] != items:
        raise RuntimeError(f"{mode}: streamed {figures['items']} items, expected {items}")
    return figures


def run(server: ServerProcess, *, quick: bool = False) -> Section:
    if importlib.util.find_spec("connector_sdk._operations.calls") is None:
        return unavailable("memory", "operation streaming (connector_sdk._operations.calls) has"
                                     " not landed")
    counts = (200, 2_000) if quick else (1_000, 10_000, 100_000)
    modes = (RAW, STREAM, COLLECT)
    results: dict[str, dict[int, dict[str, float]]] = {mode: {} for mode in modes}
    try:
        for items in counts:
            for mode in modes:
                results[mode][items] = _measure(server, mode, items)
    finally:
        server.control("config", list_total=100_000)
    wf_counts = (200, 2_000) if quick else (10_000, 100_000)
    workflows: dict[str, dict[int, dict[str, float]]] = {WF_REPORT: {}, WF_STREAM: {}}
    for items in wf_counts:
        for mode in workflows:
            workflows[mode][items] = _measure(server, mode, items)
    section = Section("memory", figures={"counts": counts, "results": results,
                                         "workflow_counts": wf_counts,
                                         "workflows": workflows})
    rows = []
    for mode in modes:
        peaks = [results[mode][n]["peak_rss_kib"] / 1024 for n in counts]
        rows.append((mode, *(f"{p:.1f}" for p in peaks), f"{peaks[-1] - peaks[0]:+.1f}",
                     f"{counts[-1] / results[mode][counts[-1]]['seconds']:.0f}"))
    section.tables.append(Table(
        "5. Peak RSS (MiB) streaming a paginated listing, one process per figure",
        ("how", *(f"{n:,} items" for n in counts), "growth", f"items/s at {counts[-1]:,}"),
        rows))
    wf_rows = []
    for mode, figures in workflows.items():
        peaks = [figures[n]["peak_rss_kib"] / 1024 for n in wf_counts]
        wf_rows.append((mode, *(f"{p:.1f}" for p in peaks), f"{peaks[-1] - peaks[0]:+.1f}",
                        f"{wf_counts[-1] / figures[wf_counts[-1]]['seconds']:.0f}"))
    section.tables.append(Table(
        "5b. Peak RSS (MiB) of a workflow foreach, one process per figure",
        ("how", *(f"{n:,} items" for n in wf_counts), "growth",
         f"items/s at {wf_counts[-1]:,}"), wf_rows))
    wf_growth = (workflows[WF_STREAM][wf_counts[-1]]["peak_rss_kib"]
                 - workflows[WF_STREAM][wf_counts[0]]["peak_rss_kib"]) / 1024
    section.targets.append(judge(
        f"streamed workflow foreach peak RSS growth, {wf_counts[0]:,} -> {wf_counts[-1]:,}"
        " items (beyond the input list)", f"{wf_growth:+.1f} MiB",
        f"< {FLAT_MIB + 10:.0f} MiB (the 100,000 input ids alone are ~8 MiB)",
        wf_growth < FLAT_MIB + 10, timed=False, quick=quick))
    growth = (results[STREAM][counts[-1]]["peak_rss_kib"]
              - results[STREAM][counts[0]]["peak_rss_kib"]) / 1024
    section.targets.append(judge(
        f"stream_items peak RSS growth, {counts[0]:,} -> {counts[-1]:,} items",
        f"{growth:+.1f} MiB", f"< {FLAT_MIB:.0f} MiB (flat)", growth < FLAT_MIB,
        timed=False, quick=quick))
    return section


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main()
    else:
        from _sections import main_for

        main_for(run)

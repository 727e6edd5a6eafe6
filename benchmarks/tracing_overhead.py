"""Section 7: what tracing costs on the warm path, paired in one run (issue 17.1).

Each round runs ``count`` sequential warm operation calls (``call_operation`` of
``bench.get_item`` with a held token, one shared client) in each mode, order rotated each
round, through an in-process transport (no socket, so the SDK's own cost shows):

* ``raw httpx``: an ``httpx.AsyncClient`` with the header hard-coded (the floor);
* ``off``: the instrumentation off, exactly the path taken when opentelemetry-api is not
  installed (``_telemetry.otel()`` is ``None``: no wrapped transport, units are no-ops);
* ``api, no SDK``: opentelemetry-api installed, no provider configured (the globals are the
  API's proxies), as for an operator who installed the extra but exports nothing: the SDK
  reads that no provider is set, per unit of work and per request, and does nothing more;
* ``SDK, no-op exporter``: an SDK ``TracerProvider`` whose ``SimpleSpanProcessor`` hands every
  span to an exporter that drops it, and a ``MeterProvider`` with an in-memory reader: the
  cost of recording, not of shipping.

Figures are the median over rounds of the time per call and of the per-round ratio to
``off`` and to raw httpx, with their spread, in wall and thread CPU time. What ``off`` still
does per call (one ``Unit``: an object and a context variable set and reset) is timed on its
own and shown as a share of the call. Targets: that share <= 1% ("costs nothing
measurable"), the API without an SDK <= 1.05x of ``off`` in CPU time, i.e. what ``off`` costs
within this benchmark's noise (wall time is shown; on a shared machine its spread is the
load's); the SDK's own cost is reported, not judged (exporting is the operator's choice).

    python benchmarks/tracing_overhead.py [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from _common import median, paired, shown
from _contenders import PARAMETERS, make_runtime
from _sections import Section, Table, judge, unavailable
from _server import AsyncInProcessTransport, BenchApp, InProcessTransport

from connector_sdk import _telemetry
from connector_sdk._operations.calls import call_operation
from connector_sdk._telemetry import api as telemetry_state

RAW, OFF, API, SDK = "raw httpx", "off", "api, no SDK", "SDK, no-op exporter"
MODES = (RAW, OFF, API, SDK)


Call = Callable[[], Awaitable[Any]]


def _states() -> tuple[dict[str, Any], Any, list[Any]]:
    """The instrumentation state of each mode (``_telemetry``'s module state, set before a
    mode's calls: the benchmark switches in one process what a deployment chooses once)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Drop(SpanExporter):
        """Drops every span: what the SDK costs before anything is shipped."""

        def __init__(self) -> None:
            self.spans = 0

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self.spans += len(spans)
            return SpanExportResult.SUCCESS

    drop = Drop()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(drop))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    states = {RAW: None, OFF: None, API: _telemetry.Otel(),
              SDK: _telemetry.Otel(tracer_provider, meter_provider)}
    return states, drop, [tracer_provider, meter_provider]


async def _calls(app: BenchApp, states: dict[str, Any], home: Path
                 ) -> tuple[dict[str, Call], list[Callable[[], Awaitable[None]]]]:
    """One warm call per mode; each mode's client is built under its own state."""
    calls: dict[str, Call] = {}
    closers: list[Callable[[], Awaitable[None]]] = []
    raw = httpx.AsyncClient(transport=AsyncInProcessTransport(app),
                            base_url="http://127.0.0.1:1/api")
    token = (await raw.post("http://127.0.0.1:1/token", auth=("bench-client", "bench-secret"),
                            data={"grant_type": "client_credentials"})).json()["access_token"]
    raw.headers["Authorization"] = f"Bearer {token}"
    calls[RAW] = lambda: raw.get("/items/1")
    closers.append(raw.aclose)
    for mode in (OFF, API, SDK):
        telemetry_state._otel = states[mode]
        runtime = make_runtime(1, transport=InProcessTransport(app),
                               async_transport=AsyncInProcessTransport(app),
                               home=home / mode.replace(" ", "-").replace(",", ""))
        authentication = runtime.authentication("bench", PARAMETERS)
        client = runtime.async_client(authentication)

        def call(runtime: Any = runtime, authentication: Any = authentication,
                 client: Any = client) -> Awaitable[Any]:
            return call_operation(runtime, "bench.get_item", authentication, {"id": "1"},
                                  client=client)

        calls[mode] = call
        closers.append(client.aclose)

        async def close(runtime: Any = runtime) -> None:
            runtime.close()
        closers.append(close)
    return calls, closers


async def _measure(count: int, rounds: int) -> tuple[dict[str, dict[str, list[float]]], int]:
    app = BenchApp()
    states, drop, providers = _states()
    saved = telemetry_state._otel
    with tempfile.TemporaryDirectory(prefix="bench-tracing-") as tmp:
        calls, closers = await _calls(app, states, Path(tmp))
        try:
            for mode in MODES:  # warm: token held, validators built, spans flowing
                telemetry_state._otel = states[mode]
                for _ in range(50):
                    await calls[mode]()
            samples: dict[str, dict[str, list[float]]] = {"wall": {}, "cpu": {}}
            for round_no in range(rounds):
                shift = round_no % len(MODES)
                for mode in MODES[shift:] + MODES[:shift]:
                    telemetry_state._otel = states[mode]
                    call = calls[mode]
                    gc.collect()
                    started, cpu = time.perf_counter(), time.thread_time()
                    for _ in range(count):
                        await call()
                    samples["wall"].setdefault(mode, []).append(
                        (time.perf_counter() - started) / count)
                    samples["cpu"].setdefault(mode, []).append(
                        (time.thread_time() - cpu) / count)
        finally:
            telemetry_state._otel = saved
            for close in closers:
                await close()
            for provider in providers:
                provider.shutdown()
    return samples, drop.spans


def _unit_cost(count: int) -> float:
    """Seconds per ``with unit(...)`` with the instrumentation off: all ``off`` adds."""
    saved, telemetry_state._otel = telemetry_state._otel, None
    try:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(count):
                with _telemetry.unit("operation", "bench.get_item", service="bench",
                                     operation="bench.get_item", authentication="main"):
                    pass
            best = min(best, (time.perf_counter() - started) / count)
        return best
    finally:
        telemetry_state._otel = saved


def run(server: Any = None, *, quick: bool = False) -> Section:
    """The section; ``server`` is unused (in process only), accepted like the others'."""
    count, rounds = (50, 2) if quick else (500, 15)
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        return unavailable("tracing", "opentelemetry-sdk is not installed (the test extra:"
                                      " pip install -e '.[test]')")
    samples, exported = asyncio.run(_measure(count, rounds))
    unit = _unit_cost(1_000 if quick else 100_000)
    share = unit / median(samples["wall"][OFF])
    figures: dict[str, Any] = {"count": count, "rounds": rounds, "spans_exported": exported,
                               "seconds_per_call": samples, "off_unit_seconds": unit}
    section = Section("tracing", figures=figures)
    walls, cpus = samples["wall"], samples["cpu"]
    rows = []
    for mode in MODES:
        rows.append((mode, f"{median(walls[mode]) * 1e6:.1f}",
                     f"{(median(walls[mode]) - median(walls[OFF])) * 1e6:+.1f}",
                     shown(paired(walls[mode], walls[OFF])),
                     shown(paired(walls[mode], walls[RAW])),
                     shown(paired(cpus[mode], cpus[OFF]))))
    section.tables.append(Table(
        f"7. Warm operation call, {count} sequential calls, async, in process ({rounds} paired"
        " rounds)", ("mode", "us/call", "vs off (us)", "ratio to off (min-max)",
                     "ratio to raw (min-max)", "CPU ratio to off (min-max)"), rows))
    section.notes.append(f"{exported} spans reached the SDK's exporter (2 per warm call: the"
                         " operation and its HTTP attempt; a held token makes no lookup span)")
    section.notes.append(f"off: one unit costs {unit * 1e9:.0f} ns, {share:.2%} of a warm call")
    section.targets.append(judge("tracing off: unit cost / warm call", f"{share:.2%}",
                                 "<= 1%", share <= 0.01, timed=True, quick=quick))
    # judged on thread CPU time: on a shared machine the wall ratio's spread is the load's
    api = paired(cpus[API], cpus[OFF])
    section.targets.append(judge("tracing: API without SDK / off (CPU)", shown(api),
                                 "<= 1.05x", api[0] <= 1.05, timed=True, quick=quick))
    return section


if __name__ == "__main__":
    from _sections import main_for

    main_for(run)

"""With opentelemetry-api installed but no provider configured, the SDK's telemetry does no
work (no span, no attribute, no measurement); a provider the operator sets later, at any
time, gets the spans and metrics of the next call."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

from connector_sdk import Runtime, _telemetry, load_workflow, run_workflow_sync
from connector_sdk._http import tracing
from connector_sdk._telemetry.units import Scope

EXAMPLES = Path(__file__).parents[2] / "examples"


def _run_workflow(tmp_path: Path) -> tuple[Any, str]:
    with Runtime(sandbox=True, home=tmp_path) as runtime:
        flow = load_workflow(EXAMPLES / "twitch-top-streams.yaml", services=runtime.services)
        result = run_workflow_sync(runtime, flow, {"streams": 3})
        client = runtime.async_client(runtime.resolve_authentication("twitch", "twitch"))
        transport = type(client._transport).__name__
    return result, transport


@pytest.mark.parametrize("providers", [
    pytest.param(lambda: _telemetry.use_providers(), id="global-proxies"),
    pytest.param(lambda: _telemetry.use_providers(NoOpTracerProvider(), NoOpMeterProvider()),
                 id="no-op-providers"),
])
def test_without_a_provider_no_span_attribute_or_metric_work_happens(
    providers: Callable[[], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider), \
        "a test set a global tracer provider: this process's results would not say anything"
    providers()
    try:
        state = _telemetry.otel()
        assert state is not None and not state.tracing() and not state.measuring()
        calls = _counting(monkeypatch, state)
        caplog.set_level(logging.DEBUG, logger="connector_sdk.tokens")
        result, transport = _run_workflow(tmp_path)
    finally:
        _telemetry.use_providers()
    assert result.status == "succeeded"
    assert transport == "AsyncTracedTransport"  # wrapped: the check is made per request
    assert dict(calls) == {}
    records = [r for r in caplog.records if r.name == "connector_sdk.tokens"]
    assert records and all(r.trace_id is None and r.span_id is None for r in records)
    asked = next(r for r in records if r.getMessage().startswith("token request "))
    assert (asked.operation, asked.step, asked.attempt) == ("twitch.get_top_games",
                                                            "top_games", 1)


def _counting(monkeypatch: pytest.MonkeyPatch, state: Any) -> Counter[str]:
    """Counts every call into span, attribute and metric work, from the SDK's side."""
    calls: Counter[str] = Counter()

    def count(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def hook(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(owner, name, hook)

    count(Scope, "attributes")
    count(tracing, "_span_attributes")
    count(tracing, "_measured_attributes")
    count(state.tracer, "start_span")
    for instrument in (state.http_duration, state.operation_duration, state.rate_limit_wait):
        count(instrument, "record")
    for instrument in (state.token_requests, state.token_cache, state.token_rejected):
        count(instrument, "add")
    return calls


def test_the_counting_hooks_see_the_work_when_a_provider_records(
    telemetry: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The hooks above can fail: with providers, the same run goes through every one."""
    state = _telemetry.otel()
    assert state is not None and state.tracing() and state.measuring()
    calls = _counting(monkeypatch, state)
    result, _ = _run_workflow(tmp_path)
    assert result.status == "succeeded"
    assert set(calls) == {"attributes", "_span_attributes", "_measured_attributes",
                          "start_span", "record", "add"}, dict(calls)


def test_without_a_provider_log_records_carry_the_operators_own_span(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The SDK makes no span of its own, so the operator's (from a provider the SDK does not
    use) stays current inside its units: its log records join the operator's trace."""
    _telemetry.use_providers()
    operator = TracerProvider()
    logger = _telemetry.get_logger("connector_sdk.tokens")
    caplog.set_level(logging.DEBUG, logger="connector_sdk.tokens")
    try:
        with operator.get_tracer("operator").start_as_current_span("job") as job, \
                _telemetry.unit("operation", "demo.op", service="demo", operation="demo.op"):
            logger.debug("inside")
    finally:
        operator.shutdown()
    record = caplog.records[-1]
    context = job.get_span_context()
    assert (record.service, record.operation) == ("demo", "demo.op")
    assert record.trace_id == f"{context.trace_id:032x}"
    assert record.span_id == f"{context.span_id:016x}"


LATE = textwrap.dedent("""
    import asyncio, json, logging, sys, tempfile

    from connector_sdk import Runtime, call_operation, load_workflow, run_workflow_sync

    records = []
    class Keep(logging.Handler):
        def emit(self, record):
            records.append((record.getMessage().split(" ")[1], record.trace_id))
    tokens = logging.getLogger("connector_sdk.tokens")
    tokens.setLevel(logging.DEBUG)
    tokens.addHandler(Keep())

    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def points():
        data = reader.get_metrics_data()
        found = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = sum(getattr(p, "count", None) or p.value
                                             for p in metric.data.data_points)
        return found

    runtime = Runtime(sandbox=True, home=tempfile.mkdtemp())
    flow = load_workflow(sys.argv[1], services=runtime.services)

    async def call(client):
        return await call_operation(runtime, "twitch.get_top_games", "twitch", {},
                                    client=client)

    async def before_and_after():
        global reader
        authentication = runtime.resolve_authentication("twitch", "twitch")
        client = runtime.async_client(authentication)
        async with client:
            await call(client)  # no provider yet
            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            reader = InMemoryMetricReader()
            metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
            records.clear()
            runtime.tokens.forget(authentication)  # the next call fetches: its records
            await call(client)  # the same runtime, the same client, built before
        return exporter

    first = run_workflow_sync(runtime, flow, {"streams": 2})
    untraced = list(records)
    exporter = asyncio.run(before_and_after())
    spans = [{"name": s.name, "id": s.context.span_id, "trace": f"{s.context.trace_id:032x}",
              "parent": s.parent.span_id if s.parent else None}
             for s in exporter.get_finished_spans()]
    measured = points()
    runtime.close()
    print(json.dumps({"first": first.status, "spans": spans, "metrics": measured,
                      "untraced": untraced, "records": records}))
""")


def test_a_provider_set_after_the_runtime_and_a_first_call_gets_the_next_calls_spans(
) -> None:
    """In a fresh process (a global provider can be set once): the operator sets the global
    providers after the SDK was imported, a runtime made, a workflow run and a call made on
    a client; the next call on that same client is traced and measured."""
    done = subprocess.run([sys.executable, "-c", LATE, str(EXAMPLES / "twitch-top-streams.yaml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["first"] == "succeeded"
    spans = report["spans"]
    # only the call after the provider was set: its operation span, the token lookup the
    # forgotten token caused and the HTTP attempts (one per page), children of the operation
    (operation,) = [s for s in spans if s["name"] == "twitch.get_top_games"]
    (lookup,) = [s for s in spans if s["name"] == "token twitch"]
    (post,) = [s for s in spans if s["name"] == "POST /oauth2/token"]
    gets = [s for s in spans if s["name"] == "GET /helix/games/top"]
    assert len(spans) == 3 + len(gets) and gets
    assert lookup["parent"] == operation["id"] and post["parent"] == lookup["id"]
    assert all(s["parent"] == operation["id"] for s in gets)
    assert {s["trace"] for s in spans} == {operation["trace"]}
    assert report["metrics"]["connector_sdk.operation.duration"] == 1
    assert report["metrics"]["http.client.request.duration"] == len(gets) + 1
    assert report["metrics"]["connector_sdk.token.requests"] == 1
    # the token records: no trace before the provider; the lookup's trace after
    assert report["untraced"] and all(trace is None for _, trace in report["untraced"])
    assert ["request", operation["trace"]] in report["records"]

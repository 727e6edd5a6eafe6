"""Fixtures for the telemetry tests: an OpenTelemetry SDK with an in-memory span exporter and
metric reader, and a transport that makes the in-process emulators misbehave on cue.

The SDK's instrumentation takes its tracer and meter from these providers
(``_telemetry.use_providers``), so no global provider is set for the rest of the suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from connector_sdk import _telemetry


@dataclass
class Telemetry:
    """What the instrumentation exported during a test."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        ident = parent.context.span_id
        return sorted((s for s in self.spans() if s.parent is not None
                       and s.parent.span_id == ident), key=lambda s: s.start_time or 0)

    def points(self, metric: str) -> list[Any]:
        """The data points of ``metric`` (counter sums, histogram buckets) collected now."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name == metric:
                        found.extend(item.data.data_points)
        return found

    def total(self, metric: str, **attributes: Any) -> float:
        """The sum of a counter's points whose attributes include ``attributes``."""
        return sum(p.value for p in self.points(metric)
                   if all(p.attributes.get(k) == v for k, v in attributes.items()))


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    _telemetry.use_providers(tracer_provider, meter_provider)
    try:
        yield Telemetry(exporter, reader)
    finally:
        _telemetry.use_providers()  # back to the global (no-op) providers
        tracer_provider.shutdown()
        meter_provider.shutdown()


Rule = Callable[[httpx.Request], httpx.Response | None]


@dataclass
class Flaky(httpx.AsyncBaseTransport):
    """The emulators' transport, answering for them where a rule says so; each rule is used
    once. ``delay`` yields to the loop before each request, so concurrent callers overlap."""

    inner: httpx.AsyncBaseTransport
    rules: list[Rule] = field(default_factory=list)
    delay: float = 0.0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        for rule in list(self.rules):
            answer = rule(request)
            if answer is not None:
                self.rules.remove(rule)
                return answer
        return await self.inner.handle_async_request(request)


def once(path_end: str, status: int, headers: dict[str, str] | None = None) -> Rule:
    """A rule: the first request whose path ends with ``path_end`` gets ``status``."""
    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith(path_end):
            return httpx.Response(status, headers=headers or {},
                                  json={"error": "injected", "status": status})
        return None
    return rule

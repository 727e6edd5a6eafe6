"""The OpenTelemetry API's objects, made once: tracer, meter, instruments, propagator.

``otel()`` imports ``opentelemetry`` on first use, once; ``None`` when it is not installed
(every caller then does nothing). The tracer and meter come from the global providers the
operator configures, or from the ones ``use_providers`` was given.
"""

from __future__ import annotations

from typing import Any

from .._version import __version__

__all__ = ["NAME", "Otel", "otel", "use_providers"]

NAME = "connector_sdk"

#: http.client.request.duration's advised buckets, in seconds (semantic conventions, HTTP
#: metrics: https://opentelemetry.io/docs/specs/semconv/http/http-metrics/).
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                 10.0)


class Otel:
    """The API's tracer, meter and instruments, made once."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.trace = trace
        self.tracer = trace.get_tracer(NAME, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(NAME, __version__, meter_provider=meter_provider)
        # only W3C Trace Context, never the global propagator: baggage may carry user data
        self.propagator = TraceContextTextMapPropagator()
        self.http_duration = meter.create_histogram(
            "http.client.request.duration", unit="s",
            description="Duration of HTTP client requests (each attempt).",
            explicit_bucket_boundaries_advisory=_HTTP_BUCKETS)
        self.token_requests = meter.create_counter(
            "connector_sdk.token.requests", unit="{request}",
            description="HTTP requests to token endpoints (retries included), by outcome.")
        self.token_cache = meter.create_counter(
            "connector_sdk.token.cache", unit="{lookup}",
            description="Token lookups that reached the token manager: hit, miss (this"
                        " caller fetched) or wait (it waited for another caller's fetch).")
        self.token_rejected = meter.create_counter(
            "connector_sdk.token.rejected", unit="{response}",
            description="API answers 401 that made the SDK refresh the token and retry.")
        self.operation_duration = meter.create_histogram(
            "connector_sdk.operation.duration", unit="s",
            description="Duration of operation calls, pages and waits included.",
            explicit_bucket_boundaries_advisory=_HTTP_BUCKETS)
        self.rate_limit_wait = meter.create_histogram(
            "connector_sdk.rate_limit.wait", unit="s",
            description="Time spent waiting for a rate limit (a 429's wait or a bucket's"
                        " pacing) before a request.")
        self.SpanKind = trace.SpanKind
        # start_span + attach rather than start_as_current_span: the same span made current,
        # without two generator-based context managers (a third of the no-SDK cost)
        self.attach = context.attach
        self.detach = context.detach
        self.in_context = trace.set_span_in_context
        self.Link = trace.Link
        self.error = trace.StatusCode.ERROR
        self.Status = trace.Status


_UNRESOLVED: Any = object()
_otel: Otel | None = _UNRESOLVED


def otel() -> Otel | None:
    """The instrumentation objects, or ``None`` when opentelemetry-api is not installed."""
    global _otel
    if _otel is _UNRESOLVED:
        try:
            _otel = Otel()
        except ImportError:
            _otel = None
    return _otel


def use_providers(
    tracer_provider: Any = None, meter_provider: Any = None, *, enabled: bool = True
) -> None:
    """Take the tracer and meter from these providers instead of the global ones, or turn
    the instrumentation off (``enabled=False``, as if opentelemetry-api were absent).

    For tests and benchmarks, and for an application that keeps its providers out of the
    globals. Clients built before the call keep the transports they were built with.
    """
    global _otel
    _otel = Otel(tracer_provider, meter_provider) if enabled else None

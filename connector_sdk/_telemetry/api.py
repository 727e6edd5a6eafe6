"""The OpenTelemetry API's objects, made once: tracer, meter, instruments, propagator.

``otel()`` imports ``opentelemetry`` on first use, once; ``None`` when it is not installed
(every caller then does nothing). The tracer and meter come from the global providers the
operator configures, or from the ones ``use_providers`` was given.

``Otel.tracing()`` and ``Otel.measuring()`` say whether a real provider is there, checked per
unit of work: while the globals are the API's proxies (nothing configured) the SDK makes no
span, builds no attribute and records no metric, so the API alone costs what "off" costs;
``trace.set_tracer_provider`` / ``metrics.set_meter_provider`` called at any time (after the
SDK was imported, after a runtime or a client was made) turn them on from the next unit on,
and the API allows a global provider to be set only once, so "on" is kept once seen.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._version import __version__

__all__ = ["NAME", "Otel", "otel", "use_providers"]

NAME = "connector_sdk"

#: http.client.request.duration's advised buckets, in seconds (semantic conventions, HTTP
#: metrics: https://opentelemetry.io/docs/specs/semconv/http/http-metrics/).
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                 10.0)


class _Configured:
    """Whether a provider that records is there: ``given`` (``use_providers``) is decided
    once; the global one (``given`` ``None``, or the API's proxy) is read each time until it
    is a real one, then never again (the API sets a global provider once)."""

    __slots__ = ("_get", "_inert", "_on")

    def __init__(self, given: Any, get_global: Callable[[], Any],
                 inert: tuple[type, ...], proxy: tuple[type, ...]) -> None:
        self._get: Callable[[], Any] | None = get_global
        self._inert = inert + proxy
        self._on = given is not None and not isinstance(given, self._inert)
        if given is not None and not isinstance(given, proxy):
            self._get = None  # a provider of its own: on or off for good

    def __call__(self) -> bool:
        if self._on:
            return True
        if self._get is None:
            return False
        provider = self._get()
        on = self._on = provider is not None and not isinstance(provider, self._inert)
        return on


def _global(module: Any, variable: str, public: Callable[[], Any]) -> Callable[[], Any]:
    """What reads the API's global provider: its module variable (``None`` until set; ~30 ns)
    where the API has it, else the public getter (~600 ns: it looks the environment up).
    The getter was called once already (``get_tracer``/``get_meter``), so a provider named
    by ``OTEL_PYTHON_TRACER_PROVIDER``/``OTEL_PYTHON_METER_PROVIDER`` is in the variable."""
    if hasattr(module, variable):
        return functools.partial(getattr, module, variable, None)
    return public  # pragma: no cover - depends on the installed API release


def _meter_globals() -> tuple[Any, tuple[type, ...]]:
    """The module holding the API's global meter provider, and its proxy's class (neither
    is public; if a release moves them, the public getter is used and the proxy counts as
    a real provider: metrics are then recorded, never lost)."""
    try:
        from opentelemetry.metrics import _internal
        from opentelemetry.metrics._internal import _ProxyMeterProvider
    except ImportError:  # pragma: no cover - depends on the installed API release
        return None, ()
    return _internal, (_ProxyMeterProvider,)


class Otel:
    """The API's tracer, meter and instruments, made once, and whether a provider that
    records is configured (``tracing()``, ``measuring()``: cheap, called per unit of work)."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.trace = trace
        meters, meter_proxy = _meter_globals()
        self.tracing = _Configured(
            tracer_provider, _global(trace, "_TRACER_PROVIDER", trace.get_tracer_provider),
            (trace.NoOpTracerProvider,), (trace.ProxyTracerProvider,))
        self.measuring = _Configured(
            meter_provider, _global(meters, "_METER_PROVIDER", metrics.get_meter_provider),
            (metrics.NoOpMeterProvider,), meter_proxy)
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

"""OpenTelemetry traces and metrics, and the structured fields of the SDK's log records.

The SDK is a library: it depends on ``opentelemetry-api`` only (the ``otel`` extra), asks the
API for ``get_tracer("connector_sdk", version)`` and ``get_meter(...)``, and never configures
a provider, exporter or propagator; the operator's application does
(https://opentelemetry.io/docs/concepts/instrumentation/libraries/). What callers may rely on:

* **Without opentelemetry-api nothing is done.** The import is tried once, on first use (not
  when the SDK is imported); if it fails every ``unit`` is a shared no-op object and no
  transport is wrapped. With the API but no SDK, the API's own no-op tracer and meter apply.
* **Names, never values.** A span, event, status or metric carries service, operation,
  authentication, workflow and step *names*, attempt numbers, HTTP methods, hosts, status
  codes and error *type* names; never a parameter value, an input, a token, a header value
  or an exception message (a provider's message may echo an input). A failed unit's status
  description is the exception's class name.
* **Units nest by context.** ``unit`` sets the current span (``contextvars``) and the
  current log fields for the code it wraps; HTTP spans (``_http.tracing``) are children of
  the innermost unit.
* **Log records carry stable fields.** Every record of a logger from ``get_logger`` has the
  attributes ``service``, ``operation``, ``authentication``, ``workflow``, ``step``,
  ``item``, ``attempt``, ``trace_id`` and ``span_id`` (``None`` when not known), so JSON
  handlers can index them and logs join their spans.
"""

from __future__ import annotations

import contextvars
import logging
import time
import weakref
from collections.abc import Mapping
from typing import Any

from ._version import __version__

__all__ = [
    "LOG_FIELDS",
    "Unit",
    "current",
    "get_logger",
    "operation_unit",
    "otel",
    "record_rate_limit_wait",
    "record_token_lookup",
    "record_token_rejected",
    "revocation_unit",
    "step_unit",
    "template_path",
    "token_unit",
    "unit",
    "use_providers",
]

NAME = "connector_sdk"

#: The ``extra`` fields every SDK log record carries (``None`` when not known).
LOG_FIELDS = ("service", "operation", "authentication", "workflow", "step", "item", "attempt",
              "trace_id", "span_id")

#: http.client.request.duration's advised buckets, in seconds (semantic conventions, HTTP
#: metrics: https://opentelemetry.io/docs/specs/semconv/http/http-metrics/).
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                 10.0)

#: Which scope field becomes which span and metric attribute.
_ATTRIBUTES = {
    "service": "connector_sdk.service",
    "operation": "connector_sdk.operation",
    "authentication": "connector_sdk.authentication",
    "workflow": "connector_sdk.workflow",
    "step": "connector_sdk.step",
    "item": "connector_sdk.item",
    "grant": "connector_sdk.grant",
}


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


class Scope:
    """The names of the innermost unit of work, for its spans, metrics and log records."""

    __slots__ = ("attempt", "authentication", "grant", "item", "kind", "operation",
                 "service", "span", "step", "url_template", "workflow")

    service: str | None
    operation: str | None
    authentication: str | None
    workflow: str | None
    step: str | None
    item: int | None
    grant: str | None

    def __init__(self, kind: str, parent: Scope | None) -> None:
        self.kind = kind
        self.span: Any = None
        self.attempt: int | None = None
        self.url_template: str | None = None
        if parent is None:
            self.service = self.operation = self.authentication = self.workflow = None
            self.step = self.grant = None
            self.item = None
        else:
            self.service, self.operation = parent.service, parent.operation
            self.authentication, self.workflow = parent.authentication, parent.workflow
            self.step, self.item, self.grant = parent.step, parent.item, parent.grant

    def attributes(self) -> dict[str, Any]:
        """Span and metric attributes of the names set (names only)."""
        return {key: value for name, key in _ATTRIBUTES.items()
                if (value := getattr(self, name)) is not None}


_SCOPE: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "connector_sdk_scope", default=None)


def current() -> Scope | None:
    """The innermost unit's scope in this context, if any."""
    return _SCOPE.get()


class Unit:
    """A unit of work (workflow run, step, item, operation call, token lookup): a span when
    tracing is on, and the log fields of the code it wraps. Use as a context manager, in the
    same task or thread that enters it (never across the yields of a generator)."""

    __slots__ = ("_attached", "_name", "_names", "_reset", "_started", "scope")

    def __init__(self, kind: str, name: str, names: Mapping[str, Any]) -> None:
        self._name = name
        self._names = names
        self.scope = Scope(kind, _SCOPE.get())
        self._attached: Any = None
        self._reset: Any = None
        self._started = 0.0

    def __enter__(self) -> Unit:
        scope = self.scope
        for name, value in self._names.items():
            setattr(scope, name, value)
        self._reset = _SCOPE.set(scope)
        state = otel()
        if state is not None:
            self._started = time.perf_counter()
            span = scope.span = state.tracer.start_span(self._name,
                                                        attributes=scope.attributes())
            # a span that records nothing (no SDK, or sampled out) is not made current: the
            # caller's context stays current, so an incoming trace still propagates
            self._attached = state.attach(state.in_context(span)) if span.is_recording() \
                else False
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        try:
            attached = self._attached
            if attached is not None:
                state = otel()
                self._close(error)
                if state is not None and attached is not False:
                    state.detach(attached)
                self.scope.span.end()
        finally:
            _SCOPE.reset(self._reset)

    def _close(self, error: BaseException | None) -> None:
        state = otel()
        span, scope = self.scope.span, self.scope
        failed = type(error).__name__ if error is not None else None
        if failed is not None and span is not None:
            span.set_attribute("error.type", failed)
            if state is not None:
                span.set_status(state.Status(state.error, failed))
        if state is not None and scope.kind == "operation":
            attributes = scope.attributes()
            if failed is not None:
                attributes["error.type"] = failed
            state.operation_duration.record(time.perf_counter() - self._started, attributes)

    def fail(self, error_type: str | None) -> None:
        """Mark this unit failed without an exception (a step's failure is in its result):
        ``error_type`` is the error's class name."""
        state = otel()
        span = self.scope.span
        if span is not None and state is not None:
            failed = error_type or "failed"
            span.set_attribute("error.type", failed)
            span.set_status(state.Status(state.error, failed))

    def set(self, key: str, value: Any) -> None:
        """One more attribute on this unit's span (a name or number, never a value)."""
        if self.scope.span is not None:
            self.scope.span.set_attribute(key, value)


def unit(kind: str, name: str, **names: Any) -> Unit:
    """A ``Unit`` named ``name`` whose scope adds ``names`` (service, operation,
    authentication, workflow, step, item, grant) to its parent's."""
    return Unit(kind, name, names)


class _Nothing:
    """The unit of code that is part of its parent's: no span, no new fields."""

    __slots__ = ()

    def __enter__(self) -> _Nothing:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def fail(self, error_type: str | None) -> None:
        return None


_NOTHING = _Nothing()


def step_unit(call: Any) -> Unit | _Nothing:
    """The unit of one step call (a ``StepCall``, in any executor): an ``item`` span for a
    foreach item, a ``step`` span for a step, nothing when the executor already opened this
    step's span (the local executor opens one per step, around its items)."""
    names = {"step": call.step, "service": call.service, "operation": call.operation,
             "authentication": call.authentication}
    if call.item is not None:
        return Unit("item", f"item {call.step}", {**names, "item": call.item})
    scope = _SCOPE.get()
    if scope is not None and scope.kind == "step" and scope.step == call.step:
        return _NOTHING
    return Unit("step", f"step {call.step}", names)


def template_path(source: str) -> str:
    """The path of a manifest URL template (``https://{{ shop }}/admin/x`` -> ``/admin/x``):
    placeholders kept as names, the query dropped."""
    rest = source.split("://", 1)[-1]
    slash = rest.find("/")
    return "" if slash < 0 else rest[slash:].split("?", 1)[0].split("#", 1)[0]


def operation_unit(call: Any) -> Unit:
    """The unit of one operation call (an ``exchange.Call``): its span is the parent of the
    call's HTTP spans, whose ``url.template`` is the manifest's base path and path."""
    service, operation = call.service, call.operation
    made = Unit("operation", call.name, {
        "service": service.id, "operation": call.name,
        "authentication": call.authentication.name})
    request = operation.request
    if request is not None and operation.handler is None:
        made.scope.url_template = template_path(service.base_url.source).rstrip("/") + \
            request.path.source
    return made


def token_unit(authentication: Any, grant: str) -> Unit:
    """The unit of a token lookup that found no fresh token held: a cache read, a fetch
    (its HTTP spans are children) or a wait for another caller's fetch."""
    service = authentication.service
    made = Unit("token", f"token {service.id}", {
        "service": service.id, "authentication": authentication.name, "grant": grant})
    made.scope.url_template = template_path(service.auth.token_url.source)
    return made


def revocation_unit(authentication: Any) -> Unit:
    """The unit of a token revocation (RFC 7009): its POST is a child, never propagated."""
    service = authentication.service
    made = Unit("revocation", f"revoke {service.id}", {
        "service": service.id, "authentication": authentication.name})
    if service.auth.revocation is not None:
        made.scope.url_template = template_path(service.auth.revocation.url.source)
    return made


# -- token lookups ---------------------------------------------------------------------------

#: The span context of the caller leading a token fetch, by the single-flight future its
#: waiters wait on; weak, so a finished fetch leaves nothing behind.
_LEADERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def record_token_lookup(lookup: Unit, outcome: str, future: Any = None) -> None:
    """``outcome`` of a token lookup: ``hit`` (held or in the cache), ``miss`` (this caller
    fetches; ``future`` is the one its waiters wait on) or ``wait`` (it waits on ``future``,
    another caller's fetch: the span gets a link to that caller's span)."""
    state = otel()
    if state is None:
        return
    scope = lookup.scope
    state.token_cache.add(1, {**scope.attributes(), "connector_sdk.token.cache": outcome})
    span = scope.span
    if span is None:
        return
    span.set_attribute("connector_sdk.token.cache", outcome)
    if future is None:
        return
    if outcome == "miss":
        _LEADERS[future] = span.get_span_context()
    elif outcome == "wait":
        leader = _LEADERS.get(future)
        if leader is not None:
            span.add_link(leader, {"connector_sdk.link": "waited_for_fetch"})


def record_token_rejected() -> None:
    """The API answered 401: the SDK refreshes the token and sends the request again."""
    state = otel()
    if state is None:
        return
    scope = _SCOPE.get()
    state.token_rejected.add(1, scope.attributes() if scope is not None else {})
    span = state.trace.get_current_span()
    span.add_event("connector_sdk.token.rejected")


def record_rate_limit_wait(seconds: float, reason: str) -> None:
    """A wait for a rate limit: ``reason`` is ``retry_after`` (a 429) or ``pacing``."""
    state = otel()
    if state is None:
        return
    scope = _SCOPE.get()
    attributes = {**(scope.attributes() if scope is not None else {}),
                  "connector_sdk.rate_limit.reason": reason}
    state.rate_limit_wait.record(seconds, attributes)
    state.trace.get_current_span().add_event(
        "connector_sdk.rate_limit.wait",
        {"connector_sdk.rate_limit.reason": reason, "connector_sdk.rate_limit.seconds": seconds})


# -- log records -----------------------------------------------------------------------------


class _Fields(logging.Filter):
    """Adds ``LOG_FIELDS`` to each record of the logger it is on; a value the call site
    passed in ``extra`` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        scope = _SCOPE.get()
        for name in LOG_FIELDS[:-2]:
            if name not in fields:
                fields[name] = getattr(scope, name) if scope is not None else None
        trace_id = span_id = None
        state = otel()
        if state is not None:
            context = state.trace.get_current_span().get_span_context()
            if context.is_valid:
                trace_id, span_id = f"{context.trace_id:032x}", f"{context.span_id:016x}"
        fields.setdefault("trace_id", trace_id)
        fields.setdefault("span_id", span_id)
        return True


_FIELDS = _Fields()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the SDK's structured fields on every record. The
    filter runs only for records that are emitted: a disabled level costs nothing more."""
    logger = logging.getLogger(name)
    if _FIELDS not in logger.filters:
        logger.addFilter(_FIELDS)
    return logger

"""One client span and one duration measurement per HTTP attempt, at the transport.

Every request the SDK sends (operation calls and their pages, the resend after a 401, a
429's retry, token requests and their retries, revocation) leaves through a client's
transport, so wrapping the transport sees each attempt exactly once. ``traced`` wraps one
when opentelemetry-api is installed and returns it unchanged otherwise. What callers may
rely on:

* the span (``SpanKind.CLIENT``) is named ``{method} {url.template}`` (``{method}`` without a
  template) and carries the HTTP semantic conventions
  (https://opentelemetry.io/docs/specs/semconv/http/http-spans/): ``http.request.method``,
  ``url.full`` as the origin plus the manifest's path *template* (never a rendered path or a
  query: they may hold inputs), ``url.template``, ``server.address``, ``server.port``,
  ``http.response.status_code``, ``http.request.resend_count`` and ``error.type`` (the status
  code, or the transport error's class name), plus ``connector_sdk.attempt`` and the names of
  the enclosing unit (service, operation, authentication);
* ``traceparent``/``tracestate`` (W3C Trace Context, https://www.w3.org/TR/trace-context/)
  are set on the request only by a transport built with ``trace_context=True`` (API clients
  of a service whose manifest says ``telemetry.propagate_trace_context``), and never inside a
  token lookup: token and revocation clients are built without it;
* a request is never changed otherwise, and no header value is read.
"""

from __future__ import annotations

import time
from typing import Any

from .._telemetry import Otel, Scope, current, otel
from .seam import httpx

__all__ = ["AsyncTracedTransport", "TracedTransport", "otel", "traced", "traced_async"]

#: Request extension: how many times this very request object went to the transport.
ATTEMPT_EXTENSION = "connector_sdk.attempt"


def _attempt(request: httpx.Request, scope: Scope | None) -> int:
    """Count this attempt: on the request (its resends) and on the unit (the log records'
    ``attempt``), with or without a provider."""
    attempt: int = request.extensions.get(ATTEMPT_EXTENSION, 0) + 1
    request.extensions[ATTEMPT_EXTENSION] = attempt
    if scope is not None and scope.kind == "token":
        # a token request is built anew for each retry: the lookup counts them
        attempt = scope.attempt = (scope.attempt or 0) + 1
    elif scope is not None:
        scope.attempt = attempt
    return attempt


def _span_attributes(request: httpx.Request, scope: Scope | None, attempt: int
                     ) -> dict[str, Any]:
    """The client span's attributes (names, the origin and the manifest's template only)."""
    url = request.url
    host = f"[{url.host}]" if ":" in url.host else url.host
    origin = f"{url.scheme}://{host}" + (f":{url.port}" if url.port is not None else "")
    template = scope.url_template if scope is not None else None
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "server.address": url.host,
        "server.port": url.port or (443 if url.scheme == "https" else 80),
    }
    if scope is not None:
        attributes.update(scope.attributes())
    attributes["url.full"] = origin + (template or "")
    if template:
        attributes["url.template"] = template
    attributes["connector_sdk.attempt"] = attempt
    if attempt > 1:
        attributes["http.request.resend_count"] = attempt - 1
    return attributes


def _measured_attributes(request: httpx.Request, scope: Scope | None) -> dict[str, Any]:
    """http.client.request.duration's attributes: few, so the metric's series stay few."""
    url = request.url
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "server.address": url.host,
        "server.port": url.port or (443 if url.scheme == "https" else 80),
    }
    if scope is not None and scope.service is not None:
        attributes["connector_sdk.service"] = scope.service
    return attributes


def _propagate(state: Otel, request: httpx.Request, scope: Scope | None) -> None:
    """``traceparent`` of the current span (the attempt's, or the caller's own when the SDK
    makes none), never inside a token lookup; nothing without a valid current span."""
    if scope is None or scope.kind != "token":
        state.propagator.inject(request.headers)


class _Exchange:
    """The span and the clock of one attempt, for what is configured (``traced``: a tracer
    provider; ``measured``: a meter provider)."""

    __slots__ = ("_attached", "_measured", "_scope", "_span", "_started", "_state")

    def __init__(self, state: Otel, request: httpx.Request, trace_context: bool,
                 traced: bool, measured: bool) -> None:
        self._state = state
        scope = self._scope = current()
        attempt = _attempt(request, scope)
        self._measured = _measured_attributes(request, scope) if measured else None
        self._span: Any = None
        self._attached: Any = None
        if traced:
            template = scope.url_template if scope is not None else None
            method = request.method
            span = self._span = state.tracer.start_span(
                f"{method} {template}" if template else method, kind=state.SpanKind.CLIENT,
                attributes=_span_attributes(request, scope, attempt))
            # not recording (sampled out): the caller's context stays current
            if span.is_recording():
                self._attached = state.attach(state.in_context(span))
        if trace_context:
            _propagate(state, request, scope)
        self._started = time.perf_counter()

    def finish(self, status: int | None, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self._started
        state, span, measured = self._state, self._span, self._measured
        failed: str | None = None
        if status is not None and status >= 400:
            failed = str(status)
        elif status is None and error is not None:
            failed = f"{type(error).__module__}.{type(error).__qualname__}"
        if span is not None:
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if failed is not None:
                span.set_attribute("error.type", failed)
                span.set_status(state.Status(state.error, failed))
        if measured is not None:
            if status is not None:
                measured["http.response.status_code"] = status
            if failed is not None:
                measured["error.type"] = failed
            state.http_duration.record(elapsed, measured)
            scope = self._scope
            if scope is not None and scope.kind == "token":
                state.token_requests.add(1, {**_token_names(scope),
                                             "connector_sdk.outcome": _outcome(status)})
        if self._attached is not None:
            state.detach(self._attached)
        if span is not None:
            span.end()


def _untraced(state: Otel, request: httpx.Request, trace_context: bool) -> bool:
    """No provider configured: count the attempt, pass the caller's trace on where allowed,
    and say so (``True``): the request then goes out with no span and no measurement."""
    if state.tracing() or state.measuring():
        return False
    scope = current()
    _attempt(request, scope)
    if trace_context:
        _propagate(state, request, scope)
    return True


def _token_names(scope: Scope) -> dict[str, Any]:
    names = scope.attributes()
    return {k: names[k] for k in ("connector_sdk.service", "connector_sdk.grant") if k in names}


def _outcome(status: int | None) -> str:
    if status is None:
        return "unreachable"
    if 200 <= status < 300:
        return "success"
    if status == 429 or status >= 500:
        return "unavailable"
    return "rejected"


class TracedTransport(httpx.BaseTransport):
    """``inner`` with one span per request (see the module docstring)."""

    def __init__(self, inner: httpx.BaseTransport, *, trace_context: bool = False) -> None:
        self._inner = inner
        self._trace_context = trace_context

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        state = otel()
        if state is None or _untraced(state, request, self._trace_context):
            return self._inner.handle_request(request)
        exchange = _Exchange(state, request, self._trace_context, state.tracing(),
                             state.measuring())
        try:
            response = self._inner.handle_request(request)
        except BaseException as error:
            exchange.finish(None, error)
            raise
        exchange.finish(response.status_code, None)
        return response

    def __enter__(self) -> TracedTransport:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._inner.__exit__(*exc)

    def close(self) -> None:
        self._inner.close()


class AsyncTracedTransport(httpx.AsyncBaseTransport):
    """The async twin of ``TracedTransport``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, trace_context: bool = False) -> None:
        self._inner = inner
        self._trace_context = trace_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        state = otel()
        if state is None or _untraced(state, request, self._trace_context):
            return await self._inner.handle_async_request(request)
        exchange = _Exchange(state, request, self._trace_context, state.tracing(),
                             state.measuring())
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as error:
            exchange.finish(None, error)
            raise
        exchange.finish(response.status_code, None)
        return response

    async def __aenter__(self) -> AsyncTracedTransport:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)

    async def aclose(self) -> None:
        await self._inner.aclose()


def traced(transport: httpx.BaseTransport, *, trace_context: bool = False
           ) -> httpx.BaseTransport:
    """``transport`` wrapped when opentelemetry-api is installed; itself otherwise."""
    if otel() is None:
        return transport
    return TracedTransport(transport, trace_context=trace_context)


def traced_async(transport: httpx.AsyncBaseTransport, *, trace_context: bool = False
                 ) -> httpx.AsyncBaseTransport:
    """The async twin of ``traced``."""
    if otel() is None:
        return transport
    return AsyncTracedTransport(transport, trace_context=trace_context)

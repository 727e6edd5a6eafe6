"""Units of work (workflow run, step, item, operation call, token lookup, revocation): the
current span and the names their spans, metrics and log records carry; the token-lookup,
401 and rate-limit records.
"""

from __future__ import annotations

import contextvars
import time
import weakref
from collections.abc import Mapping
from typing import Any

from .api import otel

__all__ = [
    "Scope",
    "Unit",
    "current",
    "operation_unit",
    "record_rate_limit_wait",
    "record_token_lookup",
    "record_token_rejected",
    "revocation_unit",
    "step_unit",
    "template_path",
    "token_unit",
    "unit",
]

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
    a tracer provider is configured, a duration when a meter provider is (operation calls),
    and the log fields of the code it wraps. Use as a context manager, in the same task or
    thread that enters it (never across the yields of a generator)."""

    __slots__ = ("_attached", "_measured", "_name", "_names", "_reset", "_started", "scope")

    def __init__(self, kind: str, name: str, names: Mapping[str, Any]) -> None:
        self._name = name
        self._names = names
        self.scope = Scope(kind, _SCOPE.get())
        self._attached: Any = None
        self._measured = False
        self._reset: Any = None
        self._started = 0.0

    def __enter__(self) -> Unit:
        scope = self.scope
        for name, value in self._names.items():
            setattr(scope, name, value)
        self._reset = _SCOPE.set(scope)
        state = otel()
        if state is None:
            return self
        if scope.kind == "operation" and state.measuring():
            self._measured = True
            self._started = time.perf_counter()
        if state.tracing():
            span = scope.span = state.tracer.start_span(self._name,
                                                        attributes=scope.attributes())
            # a span that records nothing (sampled out) is not made current: the caller's
            # context stays current, so an incoming trace still propagates
            if span.is_recording():
                self._attached = state.attach(state.in_context(span))
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        try:
            span = self.scope.span
            if span is not None or self._measured:
                self._close(error)
            if self._attached is not None:
                state = otel()
                if state is not None:
                    state.detach(self._attached)
            if span is not None:
                span.end()
        finally:
            _SCOPE.reset(self._reset)

    def _close(self, error: BaseException | None) -> None:
        state = otel()
        if state is None:
            return
        span, scope = self.scope.span, self.scope
        failed = type(error).__name__ if error is not None else None
        if failed is not None and span is not None:
            span.set_attribute("error.type", failed)
            span.set_status(state.Status(state.error, failed))
        if self._measured:
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
    if state.measuring():
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
    if state.measuring():
        state.token_rejected.add(1, scope.attributes() if scope is not None else {})
    if state.tracing():
        state.trace.get_current_span().add_event("connector_sdk.token.rejected")


def record_rate_limit_wait(seconds: float, reason: str) -> None:
    """A wait for a rate limit: ``reason`` is ``retry_after`` (a 429) or ``pacing``."""
    state = otel()
    if state is None:
        return
    if state.measuring():
        scope = _SCOPE.get()
        attributes = {**(scope.attributes() if scope is not None else {}),
                      "connector_sdk.rate_limit.reason": reason}
        state.rate_limit_wait.record(seconds, attributes)
    if state.tracing():
        state.trace.get_current_span().add_event("connector_sdk.rate_limit.wait", {
            "connector_sdk.rate_limit.reason": reason,
            "connector_sdk.rate_limit.seconds": seconds})

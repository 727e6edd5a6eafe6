"""OpenTelemetry traces and metrics, and the structured fields of the SDK's log records.

The SDK is a library: it depends on ``opentelemetry-api`` only (the ``otel`` extra), asks the
API for ``get_tracer("connector_sdk", version)`` and ``get_meter(...)``, and never configures
a provider, exporter or propagator; the operator's application does
(https://opentelemetry.io/docs/concepts/instrumentation/libraries/). What callers may rely on:

* **Without opentelemetry-api nothing is done.** The import is tried once, on first use (not
  when the SDK is imported); if it fails every ``unit`` is a shared no-op object and no
  transport is wrapped. With the API but no provider configured (the API's global proxies,
  or no-op providers), no span is made, no attribute built and no metric recorded: the
  check is made per unit of work and per request, so a provider the operator sets at any
  time (also after a runtime or a client was made) gets spans and metrics from the next
  one on. A trace of the operator's own stays current and still propagates.
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

from .api import NAME, Otel, otel, use_providers
from .logs import LOG_FIELDS, get_logger
from .units import (
    Scope,
    Unit,
    current,
    operation_unit,
    record_rate_limit_wait,
    record_token_lookup,
    record_token_rejected,
    revocation_unit,
    step_unit,
    template_path,
    token_unit,
    unit,
)

__all__ = [
    "LOG_FIELDS",
    "NAME",
    "Otel",
    "Scope",
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

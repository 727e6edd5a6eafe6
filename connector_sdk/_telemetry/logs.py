"""The structured fields of the SDK's log records, from the current unit and span."""

from __future__ import annotations

import logging

from .api import otel
from .units import current

__all__ = ["LOG_FIELDS", "get_logger"]

#: The ``extra`` fields every SDK log record carries (``None`` when not known).
LOG_FIELDS = ("service", "operation", "authentication", "workflow", "step", "item", "attempt",
              "trace_id", "span_id")


class _Fields(logging.Filter):
    """Adds ``LOG_FIELDS`` to each record of the logger it is on; a value the call site
    passed in ``extra`` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        scope = current()
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

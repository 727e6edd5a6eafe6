"""Checking an operation's input against its input schema, before anything is sent.

The validator is built once per operation and kept with it (``OperationSpec.input_validator``,
so with the runtime's registry, never in a module global); its regexes run in RE2, so no
input can make the check backtrack (``_manifest/regex.py``). Every invalid field is reported
by JSON path with a message built from the schema, never from the value
(``_manifest/schema_errors.py``): an input may be sensitive, and a user fixing one field at a
time is a user resending everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import OperationError
from .._hints import closest, json_type
from .._http.headers import header_value_problem
from .._manifest.model import OperationSpec
from .._manifest.schema_errors import describe, missing_property, shown, unknown_properties
from .._problems import format_path

__all__ = ["OFF_LOOP_TEXT", "text_size", "validate_input"]

#: Characters of text in an input above which the async entry points check it in a thread.
OFF_LOOP_TEXT = 4096


def text_size(value: Any, limit: int) -> int:
    """Characters in the strings (keys too) of ``value``; counting stops past ``limit``."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return total


def _describe(error: Any) -> tuple[str, str]:
    """(JSON path, message) for one validation error, built from the schema, not the value."""
    path = tuple(error.absolute_path)
    if error.validator == "required":
        return format_path((*path, missing_property(error))), "is required"
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping) \
            and not path:
        known = sorted(error.schema.get("properties", {}))
        hints = [f"'{shown(key)}'" + (f" (did you mean '{hint}'?)" if hint else "")
                 for key in unknown_properties(error) for hint in [closest(key, known)]]
        return format_path(path), (f"unknown input {', '.join(hints)}; known inputs:"
                                   f" {', '.join(known) or 'none'}")
    return format_path(path), describe(error, unit="input(s)")


def _header_problems(operation: OperationSpec, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(JSON path, message) for each text input the request puts in a header that could not
    be sent there (CR, LF, NUL, edge whitespace, non-ASCII): refused now, naming the input,
    rather than failing at send time with the value quoted."""
    found: list[tuple[str, str]] = []
    headers = operation.request.headers if operation.request is not None else {}
    for header, template in headers.items():
        for key in template.names:
            value = values.get(key)
            problem = header_value_problem(value) if isinstance(value, str) else None
            if problem is not None:
                found.append((format_path((key,)), f"goes in the '{header}' header and {problem}"))
    return found


def validate_input(name: str, operation: OperationSpec, input: Any) -> dict[str, Any]:
    """``input`` checked against the operation's schema, top-level defaults applied.

    Raises ``OperationError`` whose ``details`` lists ``{"path", "message"}`` for every
    invalid field; values are never quoted (an input may be sensitive).
    """
    if not isinstance(input, Mapping):
        raise OperationError(
            f"operation '{name}': the input must be an object of named inputs, not a"
            f" {json_type(input)}", operation=name)
    values = dict(input)
    for key, prop in (operation.input_schema.get("properties") or {}).items():
        if key not in values and isinstance(prop, Mapping) and "default" in prop:
            values[key] = prop["default"]
    errors = sorted(operation.input_validator(name).iter_errors(values),
                    key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)))
    found = [*map(_describe, errors), *_header_problems(operation, values)]
    if found:
        details = [{"path": p, "message": m} for p, m in dict.fromkeys(found)]
        lines = "; ".join(f"{d['path']} {d['message']}" for d in details)
        raise OperationError(
            f"operation '{name}': invalid input ({len(details)} problem"
            f"{'s' if len(details) > 1 else ''}): {lines} (see `connector-sdk operations"
            f" {name.partition('.')[0]}`)", operation=name, details=details)
    return values

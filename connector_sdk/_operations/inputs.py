"""Checking an operation's input against its input schema, before anything is sent.

Validators are built once per operation and kept with it. Every invalid field is reported by
JSON path with a message built from the schema, never from the value: an input may be
sensitive, and a user fixing one field at a time is a user resending everything.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .._errors import OperationError
from .._hints import json_type
from .._http.headers import header_value_problem
from .._manifest.model import OperationSpec
from .._problems import format_path

__all__ = ["validate_input"]


#: id(operation) -> (operation, validator); the operation is kept so its id is not reused.
_VALIDATORS: dict[int, tuple[OperationSpec, Draft202012Validator]] = {}
_MAX_VALIDATORS = 4096


def _validator(operation: OperationSpec) -> Draft202012Validator:
    """The input validator of ``operation``, built on first use and kept with it."""
    entry = _VALIDATORS.get(id(operation))
    if entry is None or entry[0] is not operation:
        if len(_VALIDATORS) >= _MAX_VALIDATORS:  # runtimes come and go in a long process
            _VALIDATORS.clear()
        validator = Draft202012Validator(dict(operation.input_schema),
                                         format_checker=FormatChecker())
        entry = _VALIDATORS[id(operation)] = (operation, validator)
    return entry[1]


def _describe(error: ValidationError) -> tuple[str, str]:
    """(JSON path, message) for one validation error, built from the schema, not the value."""
    path = tuple(error.absolute_path)
    keyword = str(error.validator)
    value = error.validator_value
    if keyword == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return format_path((*path, missing)), "is required"
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in known)
        hints = []
        for key in extra:
            close = difflib.get_close_matches(key, known, n=1)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        return format_path(path), (f"unknown input {', '.join(hints)}; known inputs:"
                                   f" {', '.join(known) or 'none'}")
    if keyword == "type":
        expected = " or ".join(value) if isinstance(value, list) else str(value)
        return format_path(path), f"expected {expected}, got {json_type(error.instance)}"
    if keyword in ("enum", "const"):
        choices = value if keyword == "enum" else [value]
        return format_path(path), "must be one of: " + ", ".join(json.dumps(c) for c in choices)
    messages = {
        "minimum": "must be at least {}", "maximum": "must be at most {}",
        "exclusiveMinimum": "must be greater than {}", "exclusiveMaximum": "must be less than {}",
        "minLength": "must be at least {} character(s) long",
        "maxLength": "must be at most {} character(s) long",
        "minItems": "needs at least {} item(s)", "maxItems": "allows at most {} item(s)",
        "pattern": "does not match the pattern {}", "format": "is not a valid {}",
        "uniqueItems": "has duplicate items", "minProperties": "needs at least {} input(s)",
        "maxProperties": "allows at most {} input(s)",
    }
    if keyword in messages:
        return format_path(path), messages[keyword].format(value)
    if keyword in ("anyOf", "oneOf") and isinstance(value, list) and all(
            isinstance(v, Mapping) and set(v) == {"required"} for v in value):
        names = ", ".join(" and ".join(v["required"]) for v in value)
        how = "at least one" if keyword == "anyOf" else "exactly one"
        return format_path(path), f"needs {how} of: {names}"
    if keyword in ("anyOf", "oneOf", "not", "if", "dependentRequired"):
        described = error.schema.get("description") or json.dumps(value)[:120]
        return format_path(path), f"does not satisfy '{keyword}': {described}"
    return format_path(path), f"does not satisfy '{keyword}'"


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
    errors = sorted(_validator(operation).iter_errors(values),
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

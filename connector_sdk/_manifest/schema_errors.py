"""The one phraser of jsonschema errors: what is wrong, said from the schema, never the value.

jsonschema's own messages quote the offending value (``'hunter2' is too short``), and a value
may be a secret or a token. Every message the SDK shows for a schema violation, whether in
``validate`` (a manifest or workflow against the package schemas, a literal step input),
when an authentication is created or when an operation is called, is built here from the
failing keyword and the schema. Callers add their own context (a rule id, a field name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._hints import json_type

__all__ = ["describe", "expected_type", "missing_property", "required_alternatives", "shown",
           "unknown_properties"]

_TEMPLATES = {
    "minItems": "needs at least {} item(s)",
    "maxItems": "allows at most {} item(s)",
    "minLength": "must be at least {} character(s) long",
    "maxLength": "must be at most {} character(s) long",
    "minProperties": "needs at least {} {unit}",
    "maxProperties": "allows at most {} {unit}",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "multipleOf": "must be a multiple of {}",
    "pattern": "does not match the pattern {}",
    "format": "is not a valid {}",
    "uniqueItems": "has duplicate items: each item must be unique",
    "propertyNames": "has a key that is not allowed here",
}
_DESCRIBED = ("anyOf", "oneOf", "not", "if", "dependentRequired")


def missing_property(error: Any) -> str:
    """The property a ``required`` error is about (jsonschema reports one per missing name)."""
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    missing = [n for n in error.validator_value or () if n not in instance]
    for name in missing:
        if error.message == f"{name!r} is a required property":
            return str(name)
    return str(missing[0]) if missing else "?"


def unknown_properties(error: Any) -> list[str]:
    """The keys an ``additionalProperties: false`` error is about, sorted."""
    from .regex import RegexError, compile_pattern, searches

    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = schema.get("properties") or {}
    patterns = []
    for pattern in schema.get("patternProperties") or {}:
        try:
            patterns.append(compile_pattern(pattern))
        except RegexError:
            continue
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return sorted((str(k) for k in instance
                   if k not in known and not any(searches(p, str(k)) for p in patterns)), key=str)


def expected_type(error: Any) -> str:
    """``string`` or ``integer or string``: what a ``type`` error expected."""
    expected = error.validator_value
    return " or ".join(expected) if isinstance(expected, list) else str(expected)


def required_alternatives(error: Any) -> list[list[str]]:
    """For ``anyOf``/``oneOf`` of bare ``required`` branches (``login`` or ``id``), each
    branch's names, so a message can say what to add rather than 'not valid under any'."""
    branches = error.validator_value
    if error.validator not in ("anyOf", "oneOf") or not isinstance(branches, list):
        return []
    names: list[list[str]] = []
    for branch in branches:
        if not isinstance(branch, Mapping) or set(branch) != {"required"}:
            return []
        names.append([str(n) for n in branch["required"]])
    return names


def describe(error: Any, *, unit: str = "entry(ies)") -> str:
    """The message for ``error``, from its keyword and schema; ``unit`` names what an object
    holds (``input(s)``) in ``minProperties``/``maxProperties`` messages."""
    keyword = str(error.validator)
    value = error.validator_value
    if keyword == "required":
        return f"'{missing_property(error)}' is required"
    if keyword == "additionalProperties":
        extra = unknown_properties(error)
        return f"has unknown key(s) {', '.join(repr(shown(k)) for k in extra)}"
    if keyword == "type":
        return f"expected {expected_type(error)}, got {json_type(error.instance)}"
    if keyword in ("enum", "const"):
        choices = value if keyword == "enum" else [value]
        return "must be one of: " + ", ".join(json.dumps(c) for c in choices)
    template = _TEMPLATES.get(keyword)
    if template is not None:
        return template.format(value, unit=unit)
    alternatives = required_alternatives(error)
    if alternatives:
        how = "at least one" if keyword == "anyOf" else "exactly one"
        return f"needs {how} of: {', '.join(' and '.join(b) for b in alternatives)}"
    described = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    if keyword in _DESCRIBED and isinstance(described, str):
        return _short(f"does not satisfy '{keyword}': {described}")
    return _short(f"does not satisfy '{keyword}' ({json.dumps(value, default=str)[:80]})")


def shown(name: str, limit: int = 60) -> str:
    """A key as messages show it: a name, but an input may make it a megabyte long."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"

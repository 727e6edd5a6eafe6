"""Catching misspelt JSON Schema keywords in the schemas a manifest embeds.

JSON Schema ignores keywords it does not know, so ``maxmum: 100`` or ``requried: [id]`` in a
parameter or operation schema silently removes a constraint. This walks a schema and every
subschema and reports each unknown keyword with the closest known one. Keywords starting
with ``x-`` are extensions and allowed; callers may allow a few of their own (``secret``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

__all__ = ["KNOWN_KEYWORDS", "unknown_keywords"]

#: Draft 2020-12 keywords (core, applicator, validation, annotations, content, unevaluated),
#: plus draft-07 spellings that editors still write and jsonschema still honours.
KNOWN_KEYWORDS = frozenset({
    "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
    "$comment", "$defs", "definitions",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "dependencies",
    "prefixItems", "items", "additionalItems", "contains", "properties", "patternProperties",
    "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required",
    "dependentRequired", "format", "title", "description", "default", "deprecated",
    "readOnly", "writeOnly", "examples", "contentEncoding", "contentMediaType",
    "contentSchema",
})

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMAS = ("items", "additionalProperties", "not", "if", "then", "else", "contains",
            "propertyNames", "unevaluatedItems", "unevaluatedProperties", "additionalItems",
            "contentSchema")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")


def unknown_keywords(
    schema: Any, path: tuple[str | int, ...] = (), *, extra: frozenset[str] = frozenset()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """``(path of the keyword, message)`` for every unknown keyword in ``schema``."""
    if not isinstance(schema, dict):
        return
    known = KNOWN_KEYWORDS | extra
    for keyword in schema:
        if not isinstance(keyword, str) or keyword in known or keyword.startswith("x-"):
            continue
        hint = difflib.get_close_matches(keyword, sorted(known), n=1)
        fix = f": did you mean '{hint[0]}'?" if hint else ": remove it (or prefix it with x-)"
        yield (*path, keyword), f"'{keyword}' is not a JSON Schema keyword{fix}"
    for key in _SCHEMA_MAPS:
        members = schema.get(key)
        if isinstance(members, dict):
            for name, sub in members.items():
                yield from unknown_keywords(sub, (*path, key, name), extra=extra)
    for key in _SCHEMAS:
        yield from unknown_keywords(schema.get(key), (*path, key), extra=extra)
    for key in _SCHEMA_LISTS:
        members = schema.get(key)
        if isinstance(members, list):
            for i, sub in enumerate(members):
                yield from unknown_keywords(sub, (*path, key, i), extra=extra)

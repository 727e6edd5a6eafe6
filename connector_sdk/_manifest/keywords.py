"""Catching misspelt JSON Schema keywords in the schemas a manifest embeds.

JSON Schema ignores keywords it does not know, so ``maxmum: 100`` or ``requried: [id]`` in a
parameter or operation schema silently removes a constraint. ``unknown_keywords`` walks a
schema and every subschema and reports each unknown keyword with the closest known one.
Keywords starting with ``x-`` are extensions and allowed; callers may allow a few of their
own (``secret``). ``subschemas`` is the one walk over a schema's subschemas that every
static check of embedded schemas uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._hints import did_you_mean

__all__ = ["KNOWN_KEYWORDS", "Path", "subschemas", "unknown_keywords"]

Path = tuple[str | int, ...]

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


def subschemas(schema: Any, path: Path = ()) -> list[tuple[Path, dict[str, Any]]]:
    """``(path, schema)`` for ``schema`` and every subschema in a schema position, depth first.

    Values of ``enum``, ``const``, ``default`` and ``examples`` and of unknown keywords are
    data, not schemas, and are not entered.
    """
    out: list[tuple[Path, dict[str, Any]]] = []
    stack: list[tuple[Path, Any]] = [(path, schema)]
    while stack:
        where, node = stack.pop()
        if not isinstance(node, dict):
            continue
        out.append((where, node))
        children: list[tuple[Path, Any]] = []
        for key in _SCHEMA_MAPS:
            members = node.get(key)
            if isinstance(members, dict):
                children += [((*where, key, name), sub) for name, sub in members.items()]
        for key in _SCHEMAS:
            if key in node:
                children.append(((*where, key), node[key]))
        for key in _SCHEMA_LISTS:
            members = node.get(key)
            if isinstance(members, list):
                children += [((*where, key, i), sub) for i, sub in enumerate(members)]
        stack += reversed(children)
    return out


def unknown_keywords(
    schema: Any, path: Path = (), *, extra: frozenset[str] = frozenset()
) -> Iterator[tuple[Path, str]]:
    """``(path of the keyword, message)`` for every unknown keyword in ``schema``."""
    known = KNOWN_KEYWORDS | extra
    for where, sub in subschemas(schema, path):
        for keyword in sub:
            if not isinstance(keyword, str) or keyword in known or keyword.startswith("x-"):
                continue
            fix = did_you_mean(keyword, known) or ": remove it (or prefix it with x-)"
            yield (*where, keyword), f"'{keyword}' is not a JSON Schema keyword{fix}"

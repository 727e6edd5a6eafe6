"""The JSON Schemas that ship inside the package, and their validators.

The schemas are package data (``connector_sdk/schemas/*.json``), so an installed SDK validates
without the repository; the repository's top-level ``schemas/`` holds the same files for
editors (a test checks they are identical). They are read once into a ``referencing``
registry and each validator is built once per process and reused: building a validator costs
far more than running it, which matters when ``validate`` checks hundreds of files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from .._hints import did_you_mean, json_type
from .._problems import Problem
from .reader import Document

__all__ = ["SCHEMA_NAMES", "schema", "schema_problems", "validator"]

SCHEMA_NAMES = ("manifest", "workflow")


@cache
def schema(name: str) -> dict[str, Any]:
    """The parsed schema ``name`` (``manifest`` or ``workflow``) from package data."""
    text = files("connector_sdk").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _registry() -> Registry:
    resources = []
    for name in SCHEMA_NAMES:
        try:
            contents = schema(name)
        except FileNotFoundError:
            continue
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for schema ``name``, built once; formats are checked, not just annotated."""
    return Draft202012Validator(
        schema(name), registry=_registry(), format_checker=FormatChecker()
    )


def schema_problems(doc: Document, name: str) -> list[Problem]:
    """Every place ``doc`` violates schema ``name``, as problems with positions and fixes."""
    errors = sorted(validator(name).iter_errors(doc.data), key=lambda e: list(e.absolute_path))
    problems: list[Problem] = []
    for error in _leaves(errors):
        problems.extend(_to_problems(doc, error))
    return problems


def _leaves(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """For oneOf/anyOf, report the sub-error that went deepest rather than 'is not valid'."""
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            deepest = max(error.context, key=lambda e: len(e.absolute_path))
            if len(deepest.absolute_path) > len(error.absolute_path):
                yield from _leaves([deepest])
                continue
        yield error


def _to_problems(doc: Document, error: ValidationError) -> list[Problem]:
    path = tuple(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        problems = []
        for key in error.instance:
            if key in known or _matches_pattern_properties(error.schema, key):
                continue
            fix = did_you_mean(key, known) or f": known keys: {', '.join(known)}"
            problems.append(
                doc.problem((*path, key), "SCHEMA-UNKNOWN-KEY", f"unknown key '{key}'{fix}",
                            key=True)
            )
        return problems
    if keyword == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [doc.problem(path, "SCHEMA-REQUIRED", f"missing required key '{missing}'", key=True)]
    if keyword == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        got = json_type(error.instance)
        quote = ""
        if expected == "string" and got in ("number", "integer", "boolean"):
            quote = ": quote the value"
        return [doc.problem(path, "SCHEMA-TYPE", f"expected {expected_text}, got {got}{quote}")]
    if keyword in ("enum", "const"):
        choices = error.validator_value if keyword == "enum" else [error.validator_value]
        shown = ", ".join(json.dumps(v) for v in choices)
        return [doc.problem(path, "SCHEMA-ENUM", f"must be one of: {shown}")]
    if keyword == "pattern":
        return [doc.problem(path, "SCHEMA-PATTERN",
                            f"does not match the pattern {error.validator_value}")]
    if keyword == "oneOf" and path and len(path) >= 2 and path[0] == "operations":
        return [doc.problem(path, "SCHEMA-OPERATION-KIND",
                            "an operation has either a 'request' or a 'handler', not both or"
                            " neither")]
    return [doc.problem(path, f"SCHEMA-{keyword.upper()}", _keyword_message(keyword, error))]


_MESSAGES = {
    "minItems": "needs at least {} item(s)",
    "maxItems": "allows at most {} item(s)",
    "minLength": "must be at least {} character(s) long",
    "maxLength": "must be at most {} character(s) long",
    "minProperties": "needs at least {} entry(ies)",
    "maxProperties": "allows at most {} entry(ies)",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "uniqueItems": "has duplicate items: each item must be unique",
    "propertyNames": "has a key that is not allowed here",
}


def _keyword_message(keyword: str, error: ValidationError) -> str:
    """A message built from the schema, not from the value (which jsonschema would quote)."""
    template = _MESSAGES.get(keyword)
    if template is not None:
        return template.format(error.validator_value)
    return _short(f"does not satisfy '{keyword}' ({json.dumps(error.validator_value)[:80]})")


def _matches_pattern_properties(schema_: dict[str, Any], key: str) -> bool:
    return any(re.search(p, key) for p in schema_.get("patternProperties", {}))


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"

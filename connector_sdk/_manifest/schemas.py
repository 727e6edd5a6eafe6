"""A document against the package's manifest or workflow schema: its problems, with positions.

Each validator is built once per process and reused (package data, no manifest content):
building a validator costs far more than running it, which matters when ``validate`` checks
hundreds of files. Problems are phrased by ``schema_errors``, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from .._hints import did_you_mean, json_type
from .._problems import Problem
from .package import fast_is_valid, fast_validator, schema
from .reader import Document
from .schema_errors import describe, expected_type, missing_property, shown, unknown_properties

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["schema_problems", "validator"]

@cache
def validator(name: str) -> Any:
    """The validator for package schema ``name``, built once per process (package data, no
    manifest content); formats are checked and patterns run in RE2 (``dialect.py``)."""
    from .dialect import build_validator

    return build_validator(schema(name), name=f"{name} schema", trusted=True)


def schema_problems(doc: Document, name: str) -> list[Problem]:
    """Every place ``doc`` violates schema ``name``, as problems with positions and fixes.

    A valid document is recognised by jsonschema-rs in microseconds; only an invalid one is
    walked by jsonschema, whose errors give the problems (so messages do not depend on which
    engine said "invalid"; a test and the fuzzer check the two agree on valid documents).
    """
    if fast_is_valid(fast_validator(name), doc.data):
        return []
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
        for key in unknown_properties(error):
            fix = did_you_mean(key, known) or f": known keys: {', '.join(known)}"
            problems.append(
                doc.problem((*path, key), "SCHEMA-UNKNOWN-KEY", f"unknown key '{key}'{fix}",
                            key=True)
            )
        return problems
    if keyword == "required":
        return [doc.problem(path, "SCHEMA-REQUIRED",
                            f"missing required key '{missing_property(error)}'", key=True)]
    if keyword == "type":
        got = json_type(error.instance)
        quote = ""
        if error.validator_value == "string" and got in ("number", "integer", "boolean"):
            quote = ": quote the value"
        return [doc.problem(path, "SCHEMA-TYPE",
                            f"expected {expected_type(error)}, got {got}{quote}")]
    if keyword == "const":
        keyword = "enum"
    if keyword == "oneOf" and path and len(path) >= 2 and path[0] == "operations":
        return [doc.problem(path, "SCHEMA-OPERATION-KIND",
                            "an operation has either a 'request' or a 'handler', not both or"
                            " neither")]
    if "propertyNames" in error.relative_schema_path and isinstance(error.instance, str):
        # the key is at fault, not its parent: name it and point at it
        what = {("operations",): "operation id", ("parameters", "properties"):
                "parameter name"}.get(path, "key")
        return [doc.problem((*path, error.instance), f"SCHEMA-{keyword.upper()}",
                            f"{what} '{shown(error.instance)}' {describe(error)}", key=True)]
    return [doc.problem(path, f"SCHEMA-{keyword.upper()}", describe(error))]

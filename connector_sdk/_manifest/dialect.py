"""The one way the SDK builds a JSON Schema validator: draft 2020-12, RE2 regexes, no retrieval.

Every validator of a manifest's schemas (parameters, operation inputs, workflow step inputs)
and of the package's own schemas comes from ``build_validator``. What callers may rely on:

* **Nothing is ever retrieved.** The registry holds the package's schemas (and jsonschema's
  meta-schemas, which jsonschema adds from package data); its ``retrieve`` refuses every
  URI, so a ``$ref`` to ``http://...``, ``file://...`` or a relative path never opens a
  socket or a file. ``build_validator`` also refuses a schema that ``schema_policy`` finds
  fault with (``ManifestError``), so such a reference never even reaches the registry.
* **Regexes are RE2** (``regex.py``): ``pattern``, ``patternProperties`` (and so
  ``additionalProperties``) and ``format: regex`` never use Python's backtracking ``re``.
* **Formats are asserted**, not just annotated.
* **Validators are built once per owner**: ``Validators`` keeps them with the service or
  operation they belong to (a runtime's registry holds its own), never in a module global.
  The compiled regexes live in each validator's format checker, so they go with it too.
* **Matching is bounded at validate time**: ``with_budget`` charges a document's matches to a
  ``MatchBudget``, so a megabyte-long default cannot hold CI (at run time a pattern is the
  connector's own, and RE2 keeps it linear in the input).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from .._errors import ManifestError
from .._problems import format_path
from .package import package_registry
from .regex import RegexError, check_pattern, compile_pattern, searches
from .schema_policy import policy_findings

__all__ = ["MatchBudget", "MatchBudgetExceeded", "Validators", "build_validator", "plain",
           "with_budget"]


@cache
def _formats_class() -> Any:
    """The format checker class: RE2 for ``regex``, and each validator's compiled patterns."""
    from jsonschema import FormatChecker

    class Formats(FormatChecker):  # type: ignore[misc]
        def __init__(self, *, asserted: bool = True, budget: MatchBudget | None = None,
                     patterns: dict[str, Any] | None = None) -> None:
            super().__init__(None if asserted else ())
            self.asserted = asserted
            self.budget = budget
            self.patterns: dict[str, Any] = {} if patterns is None else patterns
            if asserted:
                self.checks("regex", raises=RegexError)(_is_regex)

        def search(self, pattern: str, text: str) -> bool:
            compiled = self.patterns.get(pattern)
            if compiled is None:
                compiled = self.patterns[pattern] = compile_pattern(pattern)
            if self.budget is not None:
                self.budget.charge(len(text), compiled.programsize)
            return searches(compiled, text)

    return Formats


class MatchBudget:
    """What ``validate`` may spend matching a document's values (defaults, workflow literals)
    against its patterns, in instructions x characters: at worst about 10 ns each, so the
    default bounds one document to a fraction of a second however long its values are."""

    LIMIT = 20_000_000

    def __init__(self, limit: int = LIMIT) -> None:
        self.left = limit

    def charge(self, characters: int, instructions: int) -> None:
        self.left -= (characters + 1) * instructions
        if self.left < 0:
            raise MatchBudgetExceeded


class MatchBudgetExceeded(Exception):
    """The document's values are too long to check against its patterns within the budget."""


def with_budget(validator: Any, budget: MatchBudget) -> Any:
    """``validator`` charging its pattern matches to ``budget`` (its compiled patterns kept)."""
    formats = validator.format_checker
    return validator.evolve(format_checker=_formats_class()(
        asserted=formats.asserted, budget=budget, patterns=formats.patterns))


def _is_regex(value: object) -> bool:
    if isinstance(value, str):
        check_pattern(value)  # not kept: a value is not one of the schema's patterns
    return True


def _search(validator: Any, pattern: str, text: str) -> bool:
    formats = validator.format_checker
    if hasattr(formats, "patterns"):
        return bool(formats.search(pattern, text))
    return searches(compile_pattern(pattern), text)  # a format checker of the caller's


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Any:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _search(validator, pattern, instance):
        yield ValidationError(f"does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(validator, pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    """jsonschema's own keyword with the extra keys found by RE2 (it joins the patterns with
    ``|`` and runs them with ``re``); messages never quote a value."""
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [key for key in instance if key not in properties
              and not any(_search(validator, p, key) for p in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        yield ValidationError("Additional properties are not allowed"
                              f" ({len(extras)} unexpected)")


@cache
def _validator_class() -> Any:
    """Draft 2020-12 with the RE2 keywords (a class, not user content: built once)."""
    from jsonschema import Draft202012Validator, validators

    return validators.extend(Draft202012Validator, {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    })


def build_validator(
    schema: Mapping[str, Any], *, name: str, trusted: bool = False, formats: bool = True
) -> Any:
    """A validator for ``schema`` (``name`` says whose, for messages).

    ``ManifestError`` when the schema refers outside itself or holds a regex RE2 refuses
    (``validate`` reports these with rule ids first); ``trusted`` skips that check for the
    package's own schemas. ``formats=False`` leaves ``format`` an annotation.
    """
    contents = plain(schema)
    if not trusted:
        findings = policy_findings(contents)
        if findings:
            path, rule, message = findings[0]
            raise ManifestError(f"{name}: {format_path(path)} of the schema is refused ({rule}):"
                                f" {message};"
                                " run `connector-sdk validate` on the manifest")
    return _validator_class()(contents, registry=package_registry(),
                              format_checker=_formats_class()(asserted=formats))


def plain(value: Any) -> Any:
    """The model's read-only mappings as plain dicts and lists: what jsonschema's resolver
    walks, and what JSON output needs."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class Validators:
    """The validators of one owner (a service, an operation), each built on first use."""

    __slots__ = ("_built",)

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def get(self, key: str, schema: Mapping[str, Any], *, name: str) -> Any:
        """The validator ``key`` of this owner, built from ``schema`` the first time."""
        validator = self._built.get(key)
        if validator is None:
            validator = self._built[key] = build_validator(schema, name=name)
        return validator

    def __repr__(self) -> str:
        return f"Validators({sorted(self._built)})"

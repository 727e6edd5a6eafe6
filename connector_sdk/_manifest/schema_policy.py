"""What a JSON Schema embedded in a manifest may refer to, and which regexes it may hold.

The parameter, input and output schemas of a manifest are run by jsonschema. Left to itself,
jsonschema resolves a ``$ref`` it cannot find by fetching it (``urlopen``: any host, any
``file://`` path, ``/dev/zero``). The SDK's validators (``dialect.py``) use a registry whose
retrieval always refuses; this module is the static half, run by ``validate`` and again
before any validator is built: it proves that every reference resolves *inside* the schema,
so that refusing retrieval never changes a result, and that every regex compiles in RE2.

Findings, each ``(path, rule, message)``:

``REF-NOT-LOCAL``
    a ``$ref`` or ``$dynamicRef`` that does not start with ``#`` (another document, a URL, a
    file), or an ``$id``, which would change what every reference below it resolves against.
``REF-UNRESOLVED``
    a ``#...`` reference that points to nothing, or into a value that is not a schema (an
    ``x-`` extension, a ``default``): such a reference would fail when the schema is used.
``REGEX-INVALID`` / ``REGEX-UNSUPPORTED``
    a ``pattern`` or ``patternProperties`` key that is not a regular expression, or that uses
    what RE2 lacks (``regex.py``); also ``unevaluatedProperties`` in a schema that has
    ``patternProperties``, which jsonschema would match with Python's backtracking ``re``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from .keywords import Path, subschemas
from .regex import RegexError, check_pattern

__all__ = ["Finding", "RegexBudget", "policy_findings"]

Finding = tuple[Path, str, str]

_REFERENCES = ("$ref", "$dynamicRef")


class RegexBudget:
    """Compiles each distinct pattern of one document once, within a total size.

    ``regex.check_pattern`` bounds each pattern (``MAX_PROGRAM_SIZE``); this bounds their
    sum, so a file of thousands of large patterns costs ``validate`` a fraction of a second.
    """

    #: RE2 program instructions for all the patterns of one document (one pattern may have
    #: 2,000; the Twitch and Shopify manifests use about 600 in all).
    LIMIT = 200_000
    _FAILED = 8_000  # a refused pattern costs about as much to find out as 8,000 compiled

    def __init__(self, limit: int = LIMIT) -> None:
        self.left = limit
        self._seen: dict[str, RegexError | None] = {}

    def check(self, pattern: str) -> RegexError | None:
        """Why ``pattern`` is refused, or ``None`` when it compiles."""
        if pattern in self._seen:
            return self._seen[pattern]
        error: RegexError | None = None
        if self.left <= 0:
            error = RegexError("is one pattern too many: this document's patterns together"
                               " exceed the regex engine's budget; simplify or share them",
                               unsupported=True)
        else:
            try:
                self.left -= check_pattern(pattern)
            except RegexError as exc:
                self.left -= self._FAILED
                error = exc
        self._seen[pattern] = error
        return error


def policy_findings(
    schema: Any, path: Path = (), *, budget: RegexBudget | None = None
) -> list[Finding]:
    """Every reference and regex finding of ``schema`` (whose position is ``path``)."""
    if not isinstance(schema, dict):
        return []
    budget = budget if budget is not None else RegexBudget()
    findings: list[Finding] = []
    positions: set[tuple[str, ...]] | None = None
    pattern_properties = unevaluated = None
    for where, sub in subschemas(schema, path):
        if "$id" in sub:
            findings.append(((*where, "$id"), "REF-NOT-LOCAL",
                             "'$id' changes what the references below it resolve against,"
                             " and the SDK never retrieves a schema: remove it"))
        for keyword in _REFERENCES:
            ref = sub.get(keyword)
            if not isinstance(ref, str):
                continue
            if ref and not ref.startswith("#"):
                findings.append(((*where, keyword), "REF-NOT-LOCAL",
                                 f"'{keyword}: {_shown(ref)}' points outside this schema; the"
                                 " SDK never retrieves schemas (no network, no files): define"
                                 " the schema under $defs and refer to it as '#/$defs/NAME'"))
                continue
            if positions is None:
                positions = {tuple(map(str, p[len(path):])) for p, _ in _positions(schema, path)}
            message = _unresolved(schema, ref, positions)
            if message:
                findings.append(((*where, keyword), "REF-UNRESOLVED",
                                 f"'{keyword}: {_shown(ref)}' {message}"))
        findings.extend(_regex_findings(where, sub, budget))
        if isinstance(sub.get("patternProperties"), dict) and sub["patternProperties"]:
            pattern_properties = where
        if "unevaluatedProperties" in sub and unevaluated is None:
            unevaluated = where
    if pattern_properties is not None and unevaluated is not None:
        findings.append(((*unevaluated, "unevaluatedProperties"), "REGEX-UNSUPPORTED",
                         "'unevaluatedProperties' is not supported in a schema that has"
                         " 'patternProperties' (it would run the patterns without the"
                         " linear-time engine): use 'additionalProperties' instead"))
    return findings


def _regex_findings(where: Path, sub: dict[str, Any], budget: RegexBudget) -> Iterator[Finding]:
    pattern = sub.get("pattern")
    if isinstance(pattern, str):
        error = budget.check(pattern)
        if error is not None:
            yield (*where, "pattern"), _rule(error), f"the pattern '{_shown(pattern)}' {error}"
    members = sub.get("patternProperties")
    for key in members if isinstance(members, dict) else ():
        error = budget.check(key)
        if error is not None:
            yield ((*where, "patternProperties", key), _rule(error),
                   f"the patternProperties key '{_shown(key)}' {error}")


def _rule(error: RegexError) -> str:
    return "REGEX-UNSUPPORTED" if error.unsupported else "REGEX-INVALID"


def _positions(schema: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    """Every schema position, boolean schemas included (a reference may point at ``true``)."""
    for where, sub in subschemas(schema, path):
        yield where, sub
        for key, value in sub.items():
            if isinstance(value, bool) and key in _BOOLEAN_SCHEMA_KEYWORDS:
                yield (*where, key), value
            elif isinstance(value, dict | list) and key in _BOOLEAN_SCHEMA_CONTAINERS:
                members = value.items() if isinstance(value, dict) else enumerate(value)
                for name, member in members:
                    if isinstance(member, bool):
                        yield (*where, key, name), member


_BOOLEAN_SCHEMA_KEYWORDS = frozenset({
    "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
    "unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema"})
_BOOLEAN_SCHEMA_CONTAINERS = frozenset({
    "properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "allOf",
    "anyOf", "oneOf", "prefixItems"})


def _unresolved(schema: dict[str, Any], ref: str, positions: set[tuple[str, ...]]) -> str | None:
    """Why the local reference ``ref`` does not resolve to a schema, or ``None``."""
    fragment = unquote(ref[1:])
    if fragment.startswith("/"):
        segments = tuple(s.replace("~1", "/").replace("~0", "~")
                         for s in fragment[1:].split("/"))
        if segments in positions:
            return None
        return ("points to no subschema of this schema: define it under $defs and refer to"
                " it as '#/$defs/NAME'")
    if not fragment or _resolves(schema, ref):
        return None
    return f"names no '$anchor' or '$dynamicAnchor' '{_shown(fragment)}' of this schema"


def _resolves(schema: dict[str, Any], ref: str) -> bool:
    """Whether ``referencing`` (what the validators use) resolves the anchor ``ref`` locally."""
    from referencing import Registry
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    from .package import refuse_retrieval

    registry: Registry[Any] = Registry(  # type: ignore[call-arg]
        retrieve=refuse_retrieval).with_resource("", DRAFT202012.create_resource(schema))
    try:
        registry.resolver().lookup(ref)
    except Unresolvable:
        return False
    return True


def _shown(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

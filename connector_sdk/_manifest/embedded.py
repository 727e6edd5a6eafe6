"""Checks shared by every JSON Schema a manifest embeds (parameters, operation inputs/outputs).

Two jobs, each written once:

* ``meta_schema_error``: is the schema a draft 2020-12 JSON Schema? jsonschema resolves the
  meta-schema's ``$dynamicRef`` on every node, which made this two thirds of ``validate``'s
  time. jsonschema-rs (compiled, offline: it never retrieves) decides valid or invalid in
  microseconds; only for an invalid schema does jsonschema run, so the message (its
  ``best_match``) is exactly what it always was.
* ``policy_problems``: the ``schema_policy`` findings (references, regexes) as problems.

jsonschema-rs validates the user's schema as an *instance* of the package's copy of the
meta-schema: a ``$schema`` or ``$ref`` in the user's schema is data to it, never fetched.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .._problems import Problem
from .keywords import Path
from .package import fast_is_valid
from .reader import Document
from .schema_policy import RegexBudget, policy_findings

__all__ = ["meta_schema_error", "policy_problems"]


@cache
def _fast_meta_validator() -> Any:
    """jsonschema-rs over the 2020-12 meta-schema, offline; package data, built once."""
    import jsonschema_rs
    from jsonschema import Draft202012Validator

    return jsonschema_rs.Draft202012Validator(Draft202012Validator.META_SCHEMA, offline=True)


@cache
def _meta_validator() -> Any:
    """jsonschema over the 2020-12 meta-schema (formats annotate only, as the draft says)."""
    from jsonschema import Draft202012Validator

    from .dialect import build_validator

    return build_validator(Draft202012Validator.META_SCHEMA, name="2020-12 meta-schema",
                           trusted=True, formats=False)


def meta_schema_error(schema: Any) -> Any:
    """jsonschema's best-matching ``ValidationError`` for ``schema`` against the draft
    2020-12 meta-schema, or ``None`` when it is a valid JSON Schema."""
    from jsonschema.exceptions import best_match

    if fast_is_valid(_fast_meta_validator(), schema):
        return None
    return best_match(_meta_validator().iter_errors(schema))


def policy_problems(doc: Document, path: Path, schema: Any, budget: RegexBudget) -> list[Problem]:
    """``schema_policy`` findings of the schema at ``path`` of ``doc``, as problems."""
    return [doc.problem(where, rule, message, key=where[-2:-1] == ("patternProperties",))
            for where, rule, message in policy_findings(schema, path, budget=budget)]

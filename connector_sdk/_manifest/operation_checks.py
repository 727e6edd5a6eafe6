"""Checks of a manifest's ``operations`` that JSON Schema cannot express, with rule ids.

The manifest schema gives an operation its shape; these checks say whether it can run: every
placeholder of the request names an input, path inputs are always present, the path stays
under the base URL, the input schema is a JSON Schema of an object, the pagination block is
complete for its style, and no operation header can replace the token headers. Like
``_checks``, they read defensively: the document may also have schema problems.

=================================  ==========================================================
OPERATION-PLACEHOLDER-UNKNOWN      a request placeholder names no input property (did you mean)
OPERATION-PATH-INVALID             the path is not relative to the base URL (``/...``) or holds
                                   a query, fragment, ``.``/``..`` segment or scheme
OPERATION-PATH-INPUT-OPTIONAL      a path placeholder names an input that is not required
OPERATION-SCHEMA-INVALID           the input/output schema is not a valid JSON Schema, or the
                                   input is not ``type: object``
OPERATION-UNKNOWN-KEYWORD          an input/output schema uses a keyword JSON Schema does not
                                   know (``maxmum``), which would silently drop a constraint
OPERATION-PAGINATION-INCONSISTENT  a pagination block does not fit its style or operation
OPERATION-HEADER-RESERVED          a request header would replace a token header or Host
OPERATION-RATE-LIMIT-UNDECLARED    ``rate_limit`` names no bucket of the service's
                                   ``rate_limits``
REF-* / REGEX-*                    from ``schema_policy``: references and regexes of the
                                   input/output schemas
=================================  ==========================================================

A ``{{`` that does not open a placeholder is reported as ``PLACEHOLDER-SYNTAX``, as elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._hints import did_you_mean
from .._problems import Problem
from .embedded import meta_schema_error, policy_problems
from .keywords import unknown_keywords
from .reader import Document
from .schema_policy import RegexBudget
from .templates import Template, TemplateSyntaxError, parse_template

__all__ = ["operation_problems"]

Path = tuple[str | int, ...]

#: Headers an operation may not set: the transport's and the ones that carry identity.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection",
                               "authorization", "cookie", "proxy-authorization"})


def operation_problems(doc: Document, *, budget: RegexBudget | None = None) -> list[Problem]:
    """Every problem of every operation of a manifest document (a mapping); ``budget`` is
    the document's regex budget, shared with its parameter schema."""
    budget = budget if budget is not None else RegexBudget()
    operations = doc.data.get("operations")
    if not isinstance(operations, dict):
        return []
    auth = doc.data.get("auth")
    token_headers = {str(k).lower() for k in (auth.get("headers") or {})} \
        if isinstance(auth, dict) and isinstance(auth.get("headers"), dict) else set()
    buckets = doc.data.get("rate_limits")
    declared = sorted(k for k in buckets if isinstance(k, str)) \
        if isinstance(buckets, dict) else []
    problems: list[Problem] = []
    for op_id, operation in operations.items():
        if isinstance(operation, dict):
            problems += _operation(doc, ("operations", op_id), operation, token_headers, budget)
            problems += _rate_limit_problems(doc, ("operations", op_id, "rate_limit"),
                                             operation.get("rate_limit"), declared)
    return problems


def _rate_limit_problems(doc: Document, where: Path, name: Any,
                         declared: list[str]) -> list[Problem]:
    if not isinstance(name, str) or name in declared:
        return []
    known = f" (declared: {', '.join(declared)})" if declared else ""
    return [doc.problem(where, "OPERATION-RATE-LIMIT-UNDECLARED",
                        f"rate_limit '{name}' names no bucket of rate_limits{known}"
                        f"{did_you_mean(name, declared)}; declare it at the top level, e.g."
                        f" rate_limits: {{{name}: {{style: retry_after}}}}, or a reset_header"
                        " / used_of_size style with the API's header names"
                        " (docs/operations.md, Rate limits)")]


def _operation(
    doc: Document, where: Path, operation: dict[str, Any], token_headers: set[str],
    budget: RegexBudget,
) -> list[Problem]:
    problems = _schema_problems(doc, where, operation, budget)
    input_schema = operation.get("input")
    properties = input_schema.get("properties") if isinstance(input_schema, dict) else None
    inputs = {k for k in properties if isinstance(k, str)} if isinstance(properties, dict) \
        else set()
    listed = input_schema.get("required") if isinstance(input_schema, dict) else None
    required = {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
    request = operation.get("request")
    if isinstance(request, dict):
        problems += _request_problems(doc, (*where, "request"), request, inputs, required,
                                      token_headers)
    pagination = operation.get("pagination")
    if isinstance(pagination, dict):
        problems += _pagination_problems(doc, (*where, "pagination"), pagination, operation)
    return problems


def _schema_problems(
    doc: Document, where: Path, operation: dict[str, Any], budget: RegexBudget
) -> list[Problem]:
    problems = []
    for key in ("input", "output"):
        schema = operation.get(key)
        if not isinstance(schema, dict):
            continue
        error = meta_schema_error(schema)
        if error is not None:
            problems.append(doc.problem((*where, key, *error.absolute_path),
                                        "OPERATION-SCHEMA-INVALID",
                                        f"the {key} schema is not a valid JSON Schema:"
                                        f" {error.message}"))
            continue
        for path, message in unknown_keywords(schema, (*where, key)):
            problems.append(doc.problem(path, "OPERATION-UNKNOWN-KEYWORD", message, key=True))
        problems += policy_problems(doc, (*where, key), schema, budget)
        if key == "input" and schema.get("type") != "object":
            problems.append(doc.problem((*where, key), "OPERATION-SCHEMA-INVALID",
                                        "an operation's input is an object of named inputs:"
                                        " give the input schema 'type: object' and"
                                        " 'properties'"))
    return problems


def _templates(request: dict[str, Any], where: Path) -> Iterator[tuple[Path, str, str]]:
    """(path, kind, text) of every template in a request: path, query, headers, body."""
    if isinstance(request.get("path"), str):
        yield (*where, "path"), "path", request["path"]
    for section in ("query", "headers"):
        values = request.get(section)
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, str):
                    yield (*where, section, key), section, value
    yield from _body_strings(request.get("body"), (*where, "body"))


def _body_strings(value: Any, where: Path) -> Iterator[tuple[Path, str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _body_strings(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _body_strings(item, (*where, index))
    elif isinstance(value, str):
        yield where, "body", value


def _request_problems(
    doc: Document,
    where: Path,
    request: dict[str, Any],
    inputs: set[str],
    required: set[str],
    token_headers: set[str],
) -> list[Problem]:
    problems: list[Problem] = []
    for path, kind, text in _templates(request, where):
        try:
            template = parse_template(text)
        except TemplateSyntaxError as exc:
            problems.append(doc.problem(path, "PLACEHOLDER-SYNTAX",
                                        f"{exc} (character {exc.offset + 1})"))
            continue
        for name in template.names:
            if name not in inputs:
                problems.append(doc.problem(
                    path, "OPERATION-PLACEHOLDER-UNKNOWN",
                    f"placeholder {{{{ {name} }}}} names no input of this operation"
                    + did_you_mean(name, inputs)
                    + ("" if inputs else ": declare it under input.properties")))
            elif kind == "path" and name not in required:
                problems.append(doc.problem(
                    path, "OPERATION-PATH-INPUT-OPTIONAL",
                    f"input '{name}' is placed in the path but is not required: add it to"
                    " input.required (a path cannot leave a segment out)"))
        if kind == "path":
            message = _path_problem(template)
            if message:
                problems.append(doc.problem(path, "OPERATION-PATH-INVALID", message))
    headers = request.get("headers")
    if isinstance(headers, dict):
        for name in headers:
            lowered = str(name).lower()
            if lowered in _RESERVED_HEADERS or lowered in token_headers:
                problems.append(doc.problem(
                    (*where, "headers", name), "OPERATION-HEADER-RESERVED",
                    f"header '{name}' is set by the SDK (token headers from auth.headers,"
                    " transport headers): remove it from the operation", key=True))
    return problems


def _path_problem(template: Template) -> str | None:
    """Why a path template is not a plain path under the base URL, or None."""
    literal = "".join(p if isinstance(p, str) else "x" for p in template.parts)
    if not literal.startswith("/") or literal.startswith("//"):
        return ("the path must start with a single '/': it is relative to base_url"
                " (write /users, not a full URL)")
    if any(c in literal for c in "?#\\"):
        return ("the path must not hold '?', '#' or '\\': put query parameters under"
                " request.query")
    segments = literal.split("/")
    if any(s in (".", "..") for s in segments):
        return "the path must not hold '.' or '..' segments"
    return None


def _pagination_problems(
    doc: Document, where: Path, pagination: dict[str, Any], operation: dict[str, Any]
) -> list[Problem]:
    style = pagination.get("style")
    messages = []
    if "handler" in operation:
        messages.append("a handler operation pages by itself: remove the pagination block")
    if style == "cursor":
        missing = [k for k in ("cursor", "cursor_param") if not pagination.get(k)]
        if missing:
            messages.append(f"cursor style needs {' and '.join(missing)} (where the next"
                            " cursor is in the body, and the query parameter it is sent back as)")
    elif style == "link":
        extra = [k for k in ("cursor", "cursor_param") if k in pagination]
        if extra:
            messages.append(f"link style follows the Link header: remove {' and '.join(extra)}")
    if bool(pagination.get("page_size_param")) != bool(pagination.get("max_page_size")):
        messages.append("page_size_param and max_page_size go together: give both or neither")
    return [doc.problem(where, "OPERATION-PAGINATION-INCONSISTENT", m) for m in messages]

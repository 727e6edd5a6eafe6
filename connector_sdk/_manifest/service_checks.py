"""Manifest checks that JSON Schema cannot express, each with a stable rule id.

The schema says what shape a manifest has; these checks say whether it is coherent and safe:
every placeholder names a declared parameter, secrets stay out of URLs, every URL is absolute
https and every templated host is constrained and allowed. They run on documents that may
also have schema problems, so each check reads defensively and skips what it cannot read.

Rule ids (docs/manifest.md#rules lists them with examples):

=============================  ===========================================================
PLACEHOLDER-SYNTAX             ``{{`` that is not ``{{ name }}``
PLACEHOLDER-UNKNOWN            a placeholder names no declared parameter (did you mean...)
PARAMETER-UNUSED               a declared parameter is used by no template
PARAMETER-OPTIONAL-UNSET       a template uses a parameter that may be absent (no default)
PARAMETER-RESERVED             a parameter is named like a token field (access_token)
PARAMETER-UNKNOWN-KEYWORD      a parameter schema keyword JSON Schema does not know
PARAMETERS-SCHEMA-INVALID      the parameter schema is not a valid JSON Schema
PARAMETER-DEFAULT-INVALID      a default does not satisfy its own parameter schema
PARAMETER-REQUIRED-UNKNOWN     ``required`` names a parameter that is not declared
SECRET-IN-URL                  a secret parameter is placed in a URL
SECRET-NOT-MARKED              a parameter named like a secret is not marked secret
SECRET-DEFAULT                 a secret parameter has a default (secrets are never stored)
URL-SYNTAX / URL-NOT-ABSOLUTE / URL-NOT-HTTPS / URL-PLACEHOLDER-POSITION / URL-USERINFO
                               from ``_url_template.static_url_problems``
HOST-PLACEHOLDER-UNCONSTRAINED a placeholder in a host is not constrained to a host name
URL-HOST-NOT-ALLOWED           a URL's literal host (or a parameter's example) is not allowed
HOST-PATTERN-INVALID           an ``allowed_hosts`` entry is not a host or ``*.suffix``
REF-* / REGEX-*                from ``schema_policy`` (references and regexes of the schema)
AUTH-* / SCOPE-*               from ``auth_checks`` (grants, callback, scopes)
=============================  ===========================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._hints import did_you_mean
from .._problems import Problem
from .auth_checks import auth_problems
from .dialect import MatchBudget, MatchBudgetExceeded, build_validator, with_budget
from .embedded import meta_schema_error, policy_problems
from .host_values import value_pattern_is_host_safe
from .hosts import host_allowed, host_pattern_problems
from .keywords import unknown_keywords
from .model import TOKEN_FIELDS
from .operation_checks import operation_problems
from .reader import Document
from .schema_policy import RegexBudget
from .templates import Template, TemplateSyntaxError, parse_template
from .url_template import placeholder_positions, static_url_problems, url_layout

__all__ = ["SECRET_NAME", "TemplateField", "manifest_problems", "template_fields"]

#: Parameter names that say "this is a secret".
SECRET_NAME = re.compile(
    r"(secret|passw(or)?d|passphrase|token|api_?key|private_?key|(^|_)key$|credential)", re.I
)

@dataclass(frozen=True, slots=True)
class TemplateField:
    """A template-valued field of a manifest: where it is and what it may refer to."""

    path: tuple[str | int, ...]
    source: str
    is_url: bool
    allows_token_fields: bool
    #: The value is sent in a URL's query (authorization parameters): never a secret.
    in_query: bool = False


def template_fields(data: Mapping[str, Any]) -> Iterator[TemplateField]:
    """Every template in the auth section and base URL (operations are checked apart)."""
    auth = data.get("auth")
    if isinstance(auth, dict):
        for key, is_url in (("token_url", True), ("client_id", False), ("client_secret", False)):
            if isinstance(auth.get(key), str):
                yield TemplateField(("auth", key), auth[key], is_url, False)
        for section, tokens in (("headers", True), ("token_request_fields", False)):
            for name, value in _str_items(auth.get(section)):
                yield TemplateField(("auth", section, name), value, False, tokens)
        revocation = auth.get("revocation")
        if isinstance(revocation, dict):
            if isinstance(revocation.get("url"), str):
                yield TemplateField(("auth", "revocation", "url"), revocation["url"], True, False)
            for name, value in _str_items(revocation.get("fields")):
                yield TemplateField(("auth", "revocation", "fields", name), value, False, True)
        yield from _authorization_code_fields(auth.get("authorization_code"))
    if isinstance(data.get("base_url"), str):
        yield TemplateField(("base_url",), data["base_url"], True, False)


def _authorization_code_fields(code: Any) -> Iterator[TemplateField]:
    if not isinstance(code, dict):
        return
    where = ("auth", "authorization_code")
    if isinstance(code.get("authorization_url"), str):
        yield TemplateField((*where, "authorization_url"), code["authorization_url"], True, False)
    for name, value in _str_items(code.get("authorization_parameters")):
        yield TemplateField((*where, "authorization_parameters", name), value, False, False,
                            in_query=True)
    for name, value in _str_items(code.get("token_request_fields")):
        yield TemplateField((*where, "token_request_fields", name), value, False, False)
    signature = code.get("callback_signature")
    if isinstance(signature, dict) and isinstance(signature.get("secret"), str):
        yield TemplateField((*where, "callback_signature", "secret"), signature["secret"],
                            False, False)


def _str_items(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                yield key, item


def manifest_problems(doc: Document) -> list[Problem]:
    """Every semantic problem of a manifest document (that is a mapping)."""
    data = doc.data
    params = _parameter_properties(data)
    budget = RegexBudget()
    problems: list[Problem] = []
    problems += _parameter_schema_problems(doc, params, budget)
    hosts = data.get("allowed_hosts")
    allowed = [h for h in hosts if isinstance(h, str)] if isinstance(hosts, list) else []
    problems += _allowed_host_problems(doc, data.get("allowed_hosts"))
    used: set[str] = set()
    for field in template_fields(data):
        problems += _template_problems(doc, field, params, allowed, used)
    parameters = data.get("parameters")
    listed = parameters.get("required") if isinstance(parameters, dict) else None
    required = set(listed) if isinstance(listed, list) and all(
        isinstance(n, str) for n in listed) else set(params)
    for name, prop in params.items():
        if name not in used:
            problems.append(doc.problem(
                ("parameters", "properties", name), "PARAMETER-UNUSED",
                f"parameter '{name}' is declared but no template uses it: use it as"
                f" {{{{ {name} }}}} or remove it", key=True))
        elif name not in required and "default" not in prop and name not in TOKEN_FIELDS:
            problems.append(doc.problem(
                ("parameters", "properties", name), "PARAMETER-OPTIONAL-UNSET",
                f"parameter '{name}' is used by a template but is neither required nor has a"
                " default, so an authentication without it could never make a request: add"
                " it to parameters.required or give it a default", key=True))
    problems += operation_problems(doc, budget=budget)
    problems += auth_problems(doc, params)
    return problems


def _parameter_properties(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    parameters = data.get("parameters")
    if not isinstance(parameters, dict) or not isinstance(parameters.get("properties"), dict):
        return {}
    return {k: v for k, v in parameters["properties"].items() if isinstance(v, dict)}


def _parameter_schema_problems(
    doc: Document, params: dict[str, dict[str, Any]], budget: RegexBudget
) -> list[Problem]:
    problems: list[Problem] = []
    parameters = doc.data.get("parameters")
    if not isinstance(parameters, dict):
        return problems
    error = meta_schema_error(parameters)
    if error is not None:
        path = ("parameters", *error.absolute_path)
        problems.append(doc.problem(path, "PARAMETERS-SCHEMA-INVALID",
                                    f"not a valid JSON Schema: {error.message}"))
        return problems
    properties = parameters.get("properties")
    for path, message in unknown_keywords(
        {k: v for k, v in parameters.items() if k != "properties"}, ("parameters",)
    ):
        problems.append(doc.problem(path, "PARAMETER-UNKNOWN-KEYWORD", message, key=True))
    for name, prop in (properties.items() if isinstance(properties, dict) else ()):
        for path, message in unknown_keywords(prop, ("parameters", "properties", name),
                                              extra=frozenset({"secret"})):
            problems.append(doc.problem(path, "PARAMETER-UNKNOWN-KEYWORD", message, key=True))
    refused = policy_problems(doc, ("parameters",), parameters, budget)
    problems += refused
    for name in parameters.get("required") or []:
        if isinstance(name, str) and name not in params:
            problems.append(doc.problem(
                ("parameters", "required"), "PARAMETER-REQUIRED-UNKNOWN",
                f"'{name}' is required but not declared under parameters.properties"
                + did_you_mean(name, params)))
    defaults = any("default" in prop for prop in params.values())
    root = None if refused or not defaults else with_budget(
        build_validator(parameters, name="parameters"), MatchBudget())
    for name, prop in params.items():
        where = ("parameters", "properties", name)
        if name in TOKEN_FIELDS:
            problems.append(doc.problem(where, "PARAMETER-RESERVED",
                                        f"'{name}' is the name of a token field in header"
                                        " templates: rename the parameter", key=True))
        secret = prop.get("secret") is True
        if not secret and SECRET_NAME.search(name):
            problems.append(doc.problem(where, "SECRET-NOT-MARKED",
                                        f"parameter '{name}' looks like a secret but is not"
                                        " marked: add 'secret: true' (or rename it)", key=True))
        if secret and "default" in prop:
            problems.append(doc.problem((*where, "default"), "SECRET-DEFAULT",
                                        f"secret parameter '{name}' has a default: secret values"
                                        " are given when an authentication is created, never"
                                        " stored in a manifest; remove the default", key=True))
        elif "default" in prop and root is not None:
            # evolve() keeps the root's resolver: '#/$defs/x' means the same as at run time
            try:
                errors = list(root.evolve(schema=prop).iter_errors(prop["default"]))
            except MatchBudgetExceeded:
                problems.append(doc.problem((*where, "default"), "PARAMETER-DEFAULT-INVALID",
                                            f"the default of '{name}' is too long to check"
                                            " against the schema's patterns: shorten it"))
                continue
            if errors:
                problems.append(doc.problem((*where, "default"), "PARAMETER-DEFAULT-INVALID",
                                            f"the default of '{name}' does not satisfy its own"
                                            f" schema ({errors[0].validator}): fix the default"
                                            " or the constraint"))
    return problems


def _allowed_host_problems(doc: Document, hosts: Any) -> list[Problem]:
    problems = []
    for i, pattern in enumerate(hosts if isinstance(hosts, list) else []):
        if isinstance(pattern, str):
            message = host_pattern_problems(pattern)
            if message:
                problems.append(doc.problem(("allowed_hosts", i), "HOST-PATTERN-INVALID", message))
    return problems


def _template_problems(
    doc: Document,
    field: TemplateField,
    params: dict[str, dict[str, Any]],
    allowed_hosts: list[str],
    used: set[str],
) -> list[Problem]:
    try:
        template = parse_template(field.source)
    except TemplateSyntaxError as exc:
        return [doc.problem(field.path, "PLACEHOLDER-SYNTAX",
                            f"{exc} (character {exc.offset + 1})")]
    problems: list[Problem] = []
    known = set(params) | (TOKEN_FIELDS if field.allows_token_fields else set())
    for placeholder in template.placeholders:
        name = placeholder.name
        if name in known:
            used.add(name)
            continue
        hint = _token_hint(name) if field.allows_token_fields else ""
        problems.append(doc.problem(
            field.path, "PLACEHOLDER-UNKNOWN",
            f"placeholder {{{{ {name} }}}} names no declared parameter"
            + (hint or did_you_mean(name, known))
            + ("" if known else ": declare it under parameters.properties")))
    if field.is_url:
        problems += _url_problems(doc, field, template, params, allowed_hosts)
    if field.in_query:
        for name in dict.fromkeys(template.names):
            if params.get(name, {}).get("secret") is True:
                problems.append(doc.problem(field.path, "SECRET-IN-URL", _secret_in_url(name)))
    return problems


_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"


def _host_pattern_example(template: Template, name: str, allowed_hosts: list[str]) -> str:
    """A ``pattern`` for parameter ``name`` in the host whose values can match the
    manifest's own allowed_hosts: one DNS label when the parameter is a label of the host,
    a name under an allowed ``*.suffix`` (or one of the exact names) when it is the whole
    host. A lone label can never match ``*.myshopify.com`` for a whole-host parameter."""
    layout = url_layout(template)
    whole = any(p.name == name and part == "host" and layout.host == sentinel
                for p, part, sentinel in zip(template.placeholders, layout.parts,
                                             layout.sentinels, strict=True))
    if whole:
        suffixes = [h[2:] for h in allowed_hosts if h.startswith("*.")]
        if suffixes:
            return f"^{_LABEL}{re.escape('.' + suffixes[0])}$"
        exact = [h for h in allowed_hosts if h and "*" not in h]
        if exact:
            return "^(" + "|".join(re.escape(h) for h in exact) + ")$"
    return f"^{_LABEL}$"


#: Names authors write for the token where only ``{{ access_token }}`` exists: spelling
#: distance points ``token`` at ``token_type``, the wrong way.
_TOKEN_ALIASES = frozenset({"token", "bearer", "bearer_token", "accesstoken", "oauth_token",
                            "auth_token", "api_token", "access-token"})


def _token_hint(name: str) -> str:
    if name.lower() in _TOKEN_ALIASES:
        return ": did you mean 'access_token'? (the token is {{ access_token }})"
    return ""


def _url_problems(
    doc: Document,
    field: TemplateField,
    template: Template,
    params: dict[str, dict[str, Any]],
    allowed_hosts: list[str],
) -> list[Problem]:
    problems = [doc.problem(field.path, rule, message) for rule, message in
                static_url_problems(template, allowed_hosts=allowed_hosts or None)]
    positions = placeholder_positions(template)
    hosts_text = ", ".join(allowed_hosts) or "(none declared)"
    for name, parts in positions.items():
        prop = params.get(name)
        if prop is None:
            continue
        if prop.get("secret") is True:
            problems.append(doc.problem(field.path, "SECRET-IN-URL", _secret_in_url(name)))
        if "host" in parts and not value_pattern_is_host_safe(prop):
            example = _host_pattern_example(template, name, allowed_hosts)
            problems.append(doc.problem(
                ("parameters", "properties", name), "HOST-PLACEHOLDER-UNCONSTRAINED",
                f"'{name}' is placed in the host of {'.'.join(map(str, field.path))} but its"
                " schema lets it hold '/', '@', ':', '?', '#', '\\' or spaces: add an anchored"
                f" 'pattern' (for example '{example}'); the rendered host must also match"
                f" allowed_hosts: {hosts_text}", key=True))
        if "host" in parts:
            problems += _example_host_problems(doc, field, template, name, prop, allowed_hosts)
    return problems


def _secret_in_url(name: str) -> str:
    return (f"secret parameter '{name}' is placed in a URL, where it would leak into logs,"
            " proxies and browser history: send it in a header or form field instead")


def _example_host_problems(
    doc: Document,
    field: TemplateField,
    template: Template,
    name: str,
    prop: dict[str, Any],
    allowed_hosts: list[str],
) -> list[Problem]:
    """Render the URL with the parameter's own default/examples/enum to test allowed_hosts."""
    samples = [prop["default"]] if "default" in prop else []
    samples += [v for v in prop.get("examples") or [] if isinstance(v, str)]
    samples += [v for v in prop.get("enum") or [] if isinstance(v, str)]
    problems = []
    for sample in samples:
        if not isinstance(sample, str):
            continue
        values = dict.fromkeys(template.names, "x") | {name: sample}
        host = _literal_host(parse_template(template.render(values)))
        if host and not host_allowed(host, allowed_hosts):
            problems.append(doc.problem(field.path, "URL-HOST-NOT-ALLOWED",
                                        f"with {name}='{sample}' the host '{host}' is not in"
                                        f" allowed_hosts ({', '.join(allowed_hosts)})"))
    return problems


def _literal_host(template: Template) -> str | None:
    from urllib.parse import urlsplit

    if not template.is_literal:
        return None
    try:
        return urlsplit(template.source).hostname
    except ValueError:
        return None

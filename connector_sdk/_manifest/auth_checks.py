"""Checks of the ``auth`` block that JSON Schema cannot express: grants and their scopes.

The templates of the authorization-code block (``authorization_url``, its query parameters,
its token-request fields, the callback key) go through the same placeholder, secret and host
rules as ``token_url`` in ``service_checks``; what is checked here is the grants' coherence:

=================================  ========================================================
AUTH-GRANT-DUPLICATE               ``auth.grant`` lists a grant twice
AUTH-CODE-MISSING                  ``authorization_code`` is offered but has no block
AUTH-CODE-UNUSED                   an ``authorization_code`` block for a grant not offered
AUTH-PARAMETER-RESERVED            an extra parameter or field the flow sets itself
                                   (``redirect_uri``, ``state``, ``grant_type``, ...)
AUTH-CALLBACK-SECRET               ``callback_signature.secret`` is not one secret parameter
AUTH-CALLBACK-PARAMETER-INVALID    ``callback_parameters`` names an undeclared or secret one
SCOPE-DUPLICATE                    a scope listed twice (consent or operation scopes)
SCOPE-CONTAINS-SEPARATOR           a scope holds ``scope_separator``, so it would be split
OPERATION-SCOPES-UNOBTAINABLE      an operation needs scopes no offered grant can obtain
=================================  ========================================================

A reserved name is refused rather than ignored because the flow's own value (the state that
binds a callback to its request, the redirect URL chosen by configuration) must never be
replaced by a manifest: that would let a manifest send a user's consent elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from .._hints import did_you_mean
from .._problems import Problem
from .model import AUTHORIZATION_CODE, CLIENT_CREDENTIALS
from .reader import Document
from .templates import TemplateSyntaxError, parse_template
from .url_template import url_layout

__all__ = ["RESERVED_AUTHORIZATION_PARAMETERS", "RESERVED_CALLBACK_PARAMETERS",
           "RESERVED_CODE_FIELDS", "RESERVED_TOKEN_FIELDS", "auth_problems", "grant_names"]

#: Query parameters of the authorization request the flow sets (RFC 6749 §4.1.1, RFC 7636 §4.3).
RESERVED_AUTHORIZATION_PARAMETERS = frozenset({
    "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
    "code_challenge_method"})
#: Form fields of the code exchange and refresh requests (RFC 6749 §4.1.3, §6; RFC 7636 §4.5).
RESERVED_CODE_FIELDS = frozenset({
    "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_id",
    "client_secret", "scope"})
#: Form fields of the client-credentials token request (RFC 6749 §4.4.2).
RESERVED_TOKEN_FIELDS = frozenset({"grant_type", "client_id", "client_secret", "scope"})
#: Query parameters of the redirect back that the flow reads itself (RFC 6749 §4.1.2).
RESERVED_CALLBACK_PARAMETERS = frozenset({
    "code", "state", "error", "error_description", "error_uri", "iss"})


def grant_names(value: Any) -> tuple[str, ...]:
    """``auth.grant`` as a tuple, the default first: a string is a one-grant list."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(g for g in value if isinstance(g, str))
    return ()


def auth_problems(doc: Document, params: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Every grant and scope problem of ``doc`` (which may have schema problems too)."""
    auth = doc.data.get("auth")
    if not isinstance(auth, dict):
        return []
    grants = grant_names(auth.get("grant"))
    problems = list(_grant_problems(doc, auth, grants))
    code = auth.get("authorization_code")
    separator = auth.get("scope_separator", " ")
    problems += _reserved(doc, ("auth", "token_request_fields"), auth.get("token_request_fields"),
                          RESERVED_TOKEN_FIELDS, "client-credentials token request")
    if isinstance(code, dict):
        where = ("auth", "authorization_code")
        problems += _reserved(doc, (*where, "authorization_parameters"),
                              code.get("authorization_parameters"),
                              RESERVED_AUTHORIZATION_PARAMETERS, "authorization request")
        problems += _reserved(doc, (*where, "token_request_fields"),
                              code.get("token_request_fields"), RESERVED_CODE_FIELDS,
                              "code exchange")
        problems += _url_query_reserved(doc, (*where, "authorization_url"),
                                        code.get("authorization_url"))
        problems += _callback_problems(doc, code, params)
        problems += _scope_list_problems(doc, (*where, "scopes"), code.get("scopes"), separator)
    obtainable = _client_credentials_scopes(auth, grants)
    for op_id, op in _operations(doc.data):
        scopes = op.get("scopes")
        at = ("operations", op_id, "scopes")
        problems += _scope_list_problems(doc, at, scopes, separator)
        if obtainable is None or not isinstance(scopes, list):
            continue
        missing = [s for s in dict.fromkeys(scopes) if isinstance(s, str) and s not in obtainable]
        if missing:
            problems.append(doc.problem(
                at, "OPERATION-SCOPES-UNOBTAINABLE",
                f"operation '{op_id}' needs scopes {', '.join(missing)}, but the service offers"
                " only the client-credentials grant, which asks for auth.scopes"
                f" ({', '.join(obtainable)}): add them to auth.scopes, or offer"
                f" '{AUTHORIZATION_CODE}' in auth.grant so a user can consent to them",
                key=True))
    return problems


def _grant_problems(doc: Document, auth: Mapping[str, Any],
                    grants: tuple[str, ...]) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, grant in enumerate(grants):
        if grant in seen:
            yield doc.problem(("auth", "grant", i), "AUTH-GRANT-DUPLICATE",
                              f"grant '{grant}' is listed twice in auth.grant: list each grant"
                              " once, the default first")
        seen.add(grant)
    has_block = "authorization_code" in auth
    if AUTHORIZATION_CODE in grants and not has_block:
        yield doc.problem(("auth", "grant"), "AUTH-CODE-MISSING",
                          f"auth.grant offers '{AUTHORIZATION_CODE}' but auth has no"
                          " 'authorization_code' block: add one with at least"
                          " authorization_url", key=True)
    if has_block and grants and AUTHORIZATION_CODE not in grants:
        yield doc.problem(("auth", "authorization_code"), "AUTH-CODE-UNUSED",
                          "auth.authorization_code is set but auth.grant does not offer"
                          f" '{AUTHORIZATION_CODE}': add it to auth.grant (for example"
                          f" [{', '.join(grants)}, {AUTHORIZATION_CODE}]) or remove the block",
                          key=True)


def _reserved(doc: Document, where: tuple[str, ...], mapping: Any,
              reserved: frozenset[str], request: str) -> list[Problem]:
    if not isinstance(mapping, dict):
        return []
    return [doc.problem((*where, name), "AUTH-PARAMETER-RESERVED",
                        f"'{name}' in {'.'.join(where)} is set by the SDK in the {request}"
                        " and cannot be replaced by the manifest: remove it", key=True)
            for name in mapping if isinstance(name, str) and name in reserved]


def _url_query_reserved(doc: Document, where: tuple[str, ...], url: Any) -> list[Problem]:
    """A reserved parameter written into the authorization URL's own query: the request
    would carry two (``redirect_uri=https://elsewhere`` next to the flow's), and a provider
    that reads the first would send the code elsewhere."""
    if not isinstance(url, str):
        return []
    try:
        query = url_layout(parse_template(url)).query
    except TemplateSyntaxError:
        return []
    names = sorted({name for name, _ in parse_qsl(query, keep_blank_values=True)}
                   & RESERVED_AUTHORIZATION_PARAMETERS)
    return [doc.problem(where, "AUTH-PARAMETER-RESERVED",
                        f"the authorization URL's query sets '{name}', which the SDK sets in"
                        " the authorization request: remove it from the URL") for name in names]


def _callback_problems(doc: Document, code: Mapping[str, Any],
                       params: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    where = ("auth", "authorization_code")
    signature = code.get("callback_signature")
    reserved = set(RESERVED_CALLBACK_PARAMETERS)
    if isinstance(signature, dict):
        if isinstance(signature.get("parameter"), str):
            reserved.add(signature["parameter"])
        problems += _signature_secret_problems(doc, signature.get("secret"), params)
    callback = code.get("callback_parameters")
    for name, target in (callback.items() if isinstance(callback, dict) else ()):
        path = (*where, "callback_parameters", name)
        if name in reserved:
            problems.append(doc.problem(
                path, "AUTH-PARAMETER-RESERVED",
                f"callback parameter '{name}' is read by the SDK itself (code, state, error or"
                " the signature): remove it from callback_parameters", key=True))
        if not isinstance(target, str):
            continue
        prop = params.get(target)
        if prop is None:
            problems.append(doc.problem(
                path, "AUTH-CALLBACK-PARAMETER-INVALID",
                f"callback parameter '{name}' must equal parameter '{target}', which is not"
                " declared" + (did_you_mean(target, params) or
                               ": name a parameter of parameters.properties")))
        elif prop.get("secret") is True:
            problems.append(doc.problem(
                path, "AUTH-CALLBACK-PARAMETER-INVALID",
                f"callback parameter '{name}' names secret parameter '{target}': a secret never"
                " travels in a callback URL; name a non-secret parameter"))
    return problems


def _signature_secret_problems(doc: Document, secret: Any,
                               params: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    if not isinstance(secret, str):
        return []
    try:
        template = parse_template(secret)
    except TemplateSyntaxError:
        return []  # PLACEHOLDER-SYNTAX, reported with the other templates
    names = template.names
    if len(template.parts) == 1 and len(names) == 1 and (
            params.get(names[0], {}).get("secret") is True or names[0] not in params):
        return []  # an undeclared name is PLACEHOLDER-UNKNOWN's
    secrets = sorted(n for n, p in params.items() if p.get("secret") is True)
    example = f"'{{{{ {secrets[0]} }}}}'" if secrets else "a secret parameter"
    return [doc.problem(("auth", "authorization_code", "callback_signature", "secret"),
                        "AUTH-CALLBACK-SECRET",
                        "callback_signature.secret must be exactly one secret parameter (the"
                        f" key the provider signs with), such as {example}: a literal or"
                        " non-secret key is known to anyone who reads the manifest")]


def _scope_list_problems(doc: Document, where: tuple[str | int, ...], scopes: Any,
                         separator: Any) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, scope in enumerate(scopes if isinstance(scopes, list) else ()):
        if not isinstance(scope, str):
            continue
        if scope in seen:
            problems.append(doc.problem((*where, i), "SCOPE-DUPLICATE",
                                        f"scope '{scope}' is listed twice: remove the repeat"))
        seen.add(scope)
        # a space is already refused by the schema's scope-token pattern (RFC 6749 §3.3)
        if isinstance(separator, str) and separator.strip() and separator in scope:
            problems.append(doc.problem(
                (*where, i), "SCOPE-CONTAINS-SEPARATOR",
                f"scope '{scope}' contains auth.scope_separator '{separator}', so the provider"
                " would read it as several scopes: list each scope as its own item"))
    return problems


def _client_credentials_scopes(auth: Mapping[str, Any],
                               grants: tuple[str, ...]) -> tuple[str, ...] | None:
    """The scopes a service can obtain when client credentials is its only grant and it
    asks for scopes, else ``None``: a user can consent to any scope the authorization-code
    grant asks for, and a token request without ``scope`` gets what the provider has
    configured for the application (Shopify's app scopes), which no manifest can know."""
    scopes = auth.get("scopes")
    if set(grants) != {CLIENT_CREDENTIALS} or not isinstance(scopes, list) or not scopes:
        return None
    return tuple(s for s in scopes if isinstance(s, str))


def _operations(data: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    ops = data.get("operations")
    for op_id, op in (ops.items() if isinstance(ops, dict) else ()):
        if isinstance(op_id, str) and isinstance(op, dict):
            yield op_id, op

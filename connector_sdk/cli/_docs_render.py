"""A service's reference page in Markdown, from its manifest alone: pure, no I/O.

What an author or user needs to use the service: what an authentication needs (every
parameter, which are secret, their constraints and defaults), the token endpoint and grant
and how the token is attached, the hosts requests may go to, and each operation with its
request, inputs, output, pagination, required scopes (when the manifest declares any) and
rate-limit signals. Every value shown comes from the manifest; no secret can be in it (the
validator refuses secret defaults and secrets in URLs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._manifest.model import OperationSpec, Service

__all__ = ["render_service"]

#: What each ``rate_limits`` style means for a caller (docs/operations.md has the details).
RATE_LIMIT_STYLES = {
    "reset_header": "`{remaining_header}`/`{reset_header}` (a Unix time) pace calls; a 429 is"
                    " waited out until the reset",
    "used_of_size": "the `{header}` leaky bucket (used/size, leaking its size every"
                    " {leak_window:g} s) paces calls; a 429 is waited out for its"
                    " `Retry-After`",
    "retry_after": "a 429 is waited out for its `Retry-After`",
}
_CONSTRAINT_KEYS = ("enum", "const", "pattern", "format", "minLength", "maxLength", "minimum",
                    "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
                    "multipleOf")


def _cell(text: Any) -> str:
    """Text safe in a Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "`" + _cell(text).replace("`", "'") + "`"


def _type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list | tuple):
        return " or ".join(map(str, kind))
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"array of {_type(schema['items'])}"
    return str(kind) if kind else "any"


def _constraints(schema: Mapping[str, Any]) -> str:
    parts = [f"{key} {_code(schema[key])}" for key in _CONSTRAINT_KEYS if key in schema]
    if "default" in schema:
        parts.append(f"default {_code(schema['default'])}")
    if schema.get("examples"):
        parts.append(f"e.g. {_code(schema['examples'][0])}")
    return "; ".join(parts) or "—"


def _properties_table(schema: Mapping[str, Any], *, secrets: frozenset[str] | None = None
                      ) -> list[str]:
    """A table of the schema's properties; with ``secrets``, a column marking them."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if not properties:
        return ["No inputs." if secrets is None else "No parameters.", ""]
    required = set(schema.get("required", ()))
    head = "| name | type | required | constraints | description |" if secrets is None else \
        "| name | type | required | secret | constraints | description |"
    lines = [head, "|" + "---|" * (5 if secrets is None else 6)]
    for name, sub in properties.items():
        sub = sub if isinstance(sub, Mapping) else {}
        cells = [f"`{name}`", _cell(_type(sub)), "yes" if name in required else "no"]
        if secrets is not None:
            cells.append("**yes**" if name in secrets else "no")
        description = sub.get("description") or sub.get("title") or ""
        cells += [_constraints(sub), _cell(description) or "—"]
        lines.append("| " + " | ".join(cells) + " |")
    extra = [f"One of these is required: {', '.join(_code(r['required']) for r in alt)}."
             for key in ("anyOf", "oneOf") if isinstance(alt := schema.get(key), list | tuple)
             and all(isinstance(r, Mapping) and "required" in r for r in alt)]
    return [*lines, "", *extra, *([""] if extra else [])]


#: The RFC 6749 section of each grant a manifest may offer.
_GRANT_SECTIONS = {"client_credentials": "§4.4", "authorization_code": "§4.1"}


def _grants(service: Service) -> str:
    names = [f"**{g.replace('_', ' ')}** (RFC 6749 {_GRANT_SECTIONS[g]})"
             if g in _GRANT_SECTIONS else f"**{g}**" for g in service.auth.grants]
    if len(names) == 1:
        return f"Grant: OAuth2 {names[0]}."
    return f"Grants: OAuth2 {', '.join(names)}; the first is the default."


def _authorization_code(service: Service) -> list[str]:
    auth = service.auth
    code = auth.authorization_code
    if code is None:
        return []
    lines = [f"- Authorization endpoint (user consent): {_code(code.authorization_url.source)}"]
    if code.scopes:
        lines.append("- Scopes asked for at consent: "
                     f"{_code(auth.scope_separator.join(code.scopes))}")
    lines.append(f"- PKCE: {'S256 (RFC 7636)' if code.pkce == 'S256' else 'not used'}")
    if code.redirect_urls == "single":
        lines.append("- The provider accepts a single registered redirect URL")
    if code.refresh_token_rotation:
        lines.append("- Refresh tokens rotate: each refresh returns a new one")
    for name, parameter in code.callback_parameters.items():
        lines.append(f"- Callback parameter `{name}` must equal parameter `{parameter}`")
    if code.callback_signature is not None:
        lines.append(f"- Callback signed: `{code.callback_signature.parameter}`"
                     f" ({code.callback_signature.style})")
    return lines


def _authentication(service: Service) -> list[str]:
    auth = service.auth
    lines = ["## Authentication", "",
             f"{_grants(service)} An"
             f" authentication of `{service.id}` holds the parameters below; secret ones are"
             " encrypted in the store and never shown again.", "",
             *_properties_table(service.parameters_schema, secrets=service.secret_parameters),
             f"- Token endpoint: {_code(auth.token_url.source)}",
             f"- Client authentication: `{auth.client_auth}`"]
    if auth.scopes:
        separator = auth.scope_separator
        lines.append(f"- Scopes requested: {_code(separator.join(auth.scopes))}")
    lines += _authorization_code(service)
    if auth.default_token_type:
        lines.append(f"- Token type when the answer has none: `{auth.default_token_type}`")
    lines.append(f"- Token lifetime when the answer has none: {auth.default_expires_in} s")
    for name, template in auth.headers.items():
        lines.append(f"- Sent with every request: header `{name}: {_cell(template.source)}`")
    if auth.revocation is not None:
        lines.append(f"- Revocation (when an authentication is deleted):"
                     f" {_code(auth.revocation.url.source)}")
    return [*lines, ""]


def _hosts(service: Service) -> list[str]:
    return ["## Hosts", "",
            f"- Base URL: {_code(service.base_url.source)}",
            "- Requests may go only to: " + ", ".join(_code(h) for h in service.allowed_hosts),
            "", "Every URL is rendered from the parameters and checked against these hosts"
            " before any request is sent.", ""]


def _operation(service: Service, operation: OperationSpec) -> list[str]:
    raw = operation.raw
    lines = [f"### `{service.id}.{operation.id}`: {_cell(operation.title)}", "",
             operation.description.strip(), ""]
    if operation.request is not None:
        lines.append(f"- Request: `{operation.request.method} {operation.request.path.source}`"
                     " (relative to the base URL)")
    else:
        lines.append(f"- Handler: `{operation.handler}` (Python, registered by the plugin)")
    if operation.pagination is not None:
        page = operation.pagination
        lines.append(f"- Pagination: {page.style}; items at `{'.'.join(page.items_path)}`")
    if operation.scopes:
        lines.append("- Required scopes (granted to the token, or the call is refused before"
                     " sending): " + ", ".join(_code(s) for s in operation.scopes))
    bucket = raw.get("rate_limit")
    if bucket:
        lines.append(f"- Rate limit: `{bucket}`: {_rate_limit(service, str(bucket))}")
    lines += ["", "Inputs:", "", *_properties_table(operation.input_schema)]
    if operation.output_schema:
        lines += ["Output:", "", *_properties_table(operation.output_schema)]
    return lines


def _rate_limit(service: Service, name: str) -> str:
    """What the manifest's declaration of bucket ``name`` means for a caller."""
    spec = service.rate_limits.get(name)
    if spec is None:
        return "declared"
    if spec.description:
        return _cell(spec.description)
    return RATE_LIMIT_STYLES[spec.style].format(**{
        f: getattr(spec, f) for f in ("remaining_header", "reset_header", "header")},
        leak_window=spec.leak_window or 0.0)


def render_service(service: Service) -> str:
    """The reference page of ``service`` (ends with one newline)."""
    lines = [f"# {service.title}", "",
             f"Service `{service.id}`, manifest version {service.version}.", "",
             service.description.strip(), "",
             *_authentication(service), *_hosts(service),
             "## Operations", ""]
    if not service.operations:
        lines += ["This service declares no operations.", ""]
    for operation in sorted(service.operations.values(), key=lambda o: o.id):
        lines += _operation(service, operation)
    limited = sorted({str(o.raw["rate_limit"]) for o in service.operations.values()
                      if o.raw.get("rate_limit")})
    if limited:
        lines += ["## Rate limits", ""] + [f"- `{s}`: {_rate_limit(service, s)}"
                                           for s in limited] + [""]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"

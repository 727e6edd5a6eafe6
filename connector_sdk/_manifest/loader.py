"""From manifest text to a ``Service``: parse, check against the schema and the rules, build.

``load_manifest`` is the one entry point the registry, the CLI and tests use. It returns the
problems rather than raising, so ``validate`` can report every problem of every file; callers
that want an exception use ``load_service``, which raises ``ManifestError`` carrying them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._errors import ManifestError
from .._problems import Problem
from .auth_checks import grant_names
from .model import (
    AuthorizationCodeSpec,
    CallbackSignatureSpec,
    OAuth2Auth,
    OperationSpec,
    PaginationSpec,
    ParameterSpec,
    RateLimitSpec,
    RequestSpec,
    RevocationSpec,
    Service,
)
from .reader import Document, load_yaml, read_yaml_file
from .schemas import schema_problems
from .service_checks import manifest_problems
from .templates import parse_template

__all__ = ["build_service", "check_manifest_document", "load_manifest", "load_service"]


def check_manifest_document(doc: Document) -> list[Problem]:
    """Schema and rule problems of a parsed manifest document."""
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else f"a {type(doc.data).__name__}"
        return [doc.problem((), "DOC-NOT-MAPPING",
                            f"the document is {kind}; a manifest is a mapping with keys"
                            " manifest_version, service, parameters, auth, allowed_hosts,"
                            " base_url")]
    problems = schema_problems(doc, "manifest")
    problems += manifest_problems(doc)
    return sorted(set(problems), key=lambda p: (p.line, p.column, p.rule, p.message))


def load_manifest(
    source: Path | str | bytes, *, file: str | None = None
) -> tuple[Service | None, list[Problem]]:
    """Parse and check a manifest from a path or its text; ``Service`` only when no problem."""
    if isinstance(source, Path):
        doc, problems = read_yaml_file(source, file)
    else:
        doc, problems = load_yaml(source, file or "<manifest>")
    if doc is None:
        return None, problems
    problems = sorted(set(problems + check_manifest_document(doc)),
                      key=lambda p: (p.line, p.column, p.rule, p.message))
    if problems:
        return None, problems
    return build_service(doc.data, source=doc.file), []


def load_service(source: Path | str | bytes, *, file: str | None = None) -> Service:
    """Like ``load_manifest`` but raises ``ManifestError`` listing every problem."""
    service, problems = load_manifest(source, file=file)
    if service is None:
        name = file or (str(source) if isinstance(source, Path) else "<manifest>")
        raise ManifestError(f"{name}: invalid manifest ({len(problems)} problems)",
                            problems=problems)
    return service


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _templates(mapping: Mapping[str, str] | None) -> Mapping[str, Any]:
    return _frozen({k: parse_template(v) for k, v in (mapping or {}).items()})


def build_service(data: Mapping[str, Any], *, source: str) -> Service:
    """Build the model from a document that passed ``check_manifest_document``."""
    info = data["service"]
    props: Mapping[str, Any] = data["parameters"]["properties"]
    required = set(data["parameters"].get("required") or ())
    parameters = tuple(
        ParameterSpec(
            name=name,
            secret=prop.get("secret") is True,
            required=name in required,
            type=prop.get("type"),
            title=prop.get("title"),
            description=prop.get("description"),
            default=prop.get("default"),
            has_default="default" in prop,
        )
        for name, prop in props.items()
    )
    return Service(
        id=info["id"],
        title=info["title"],
        version=info["version"],
        description=info["description"],
        parameters_schema=_frozen(data["parameters"]),
        parameters=parameters,
        auth=_build_auth(data["auth"]),
        allowed_hosts=tuple(h.lower() for h in data["allowed_hosts"]),
        base_url=parse_template(data["base_url"]),
        operations=_frozen({
            op_id: _build_operation(op_id, op)
            for op_id, op in (data.get("operations") or {}).items()
        }),
        source=source,
        rate_limits=_frozen({name: _build_rate_limit(name, spec)
                             for name, spec in (data.get("rate_limits") or {}).items()}),
        propagate_trace_context=(data.get("telemetry") or {}).get("propagate_trace_context")
        is True,
    )


def _build_rate_limit(name: str, spec: Mapping[str, Any]) -> RateLimitSpec:
    def number(key: str) -> float | None:
        return float(spec[key]) if key in spec else None

    return RateLimitSpec(
        name=name, style=spec["style"], remaining_header=spec.get("remaining_header"),
        reset_header=spec.get("reset_header"), limit_header=spec.get("limit_header"),
        window=number("window"), header=spec.get("header"),
        leak_window=number("leak_window"), min_leak_rate=number("min_leak_rate") or 0.0,
        description=spec.get("description"))


def _build_auth(auth: Mapping[str, Any]) -> OAuth2Auth:
    revocation = auth.get("revocation")
    code = auth.get("authorization_code")
    return OAuth2Auth(
        token_url=parse_template(auth["token_url"]),
        client_id=parse_template(auth["client_id"]),
        client_secret=parse_template(auth["client_secret"]),
        headers=_templates(auth["headers"]),
        client_auth=auth.get("client_authentication", "client_secret_post"),
        scopes=tuple(auth.get("scopes") or ()),
        scope_separator=auth.get("scope_separator", " "),
        token_request_fields=_templates(auth.get("token_request_fields")),
        default_token_type=auth.get("default_token_type"),
        accepted_token_types=tuple(
            t.lower() for t in auth.get("accepted_token_types") or ("bearer",)
        ),
        default_expires_in=int(auth.get("default_expires_in", 3600)),
        revocation=RevocationSpec(
            url=parse_template(revocation["url"]),
            fields=_templates(revocation["fields"]),
            client_auth=revocation.get("client_authentication", "none"),
        ) if revocation else None,
        grants=grant_names(auth["grant"]),
        authorization_code=_build_authorization_code(code) if code else None,
    )


def _build_authorization_code(code: Mapping[str, Any]) -> AuthorizationCodeSpec:
    signature = code.get("callback_signature")
    return AuthorizationCodeSpec(
        authorization_url=parse_template(code["authorization_url"]),
        scopes=tuple(code.get("scopes") or ()),
        pkce=code.get("pkce", "none"),
        authorization_parameters=_templates(code.get("authorization_parameters")),
        token_request_fields=_templates(code.get("token_request_fields")),
        redirect_urls=code.get("redirect_urls", "multiple"),
        refresh_token_rotation=code.get("refresh_token_rotation", False) is True,
        callback_parameters=_frozen(code.get("callback_parameters") or {}),
        callback_signature=CallbackSignatureSpec(
            style=signature["style"],
            parameter=signature["parameter"],
            secret=parse_template(signature["secret"]),
            max_age=float(signature["max_age"]) if "max_age" in signature else None,
        ) if signature else None,
    )


def _build_operation(op_id: str, op: Mapping[str, Any]) -> OperationSpec:
    request = op.get("request")
    pagination = op.get("pagination")
    return OperationSpec(
        id=op_id,
        title=op["title"],
        description=op["description"],
        input_schema=_frozen(op["input"]),
        output_schema=_frozen(op["output"]) if "output" in op else None,
        request=RequestSpec(
            method=request["method"],
            path=parse_template(request["path"]),
            query=_templates({k: str(v) for k, v in (request.get("query") or {}).items()}),
            headers=_templates(request.get("headers")),
            body=request.get("body"),
        ) if request else None,
        handler=op.get("handler"),
        pagination=PaginationSpec(
            style=pagination["style"],
            items_path=tuple(pagination["items"].split(".")),
            cursor_path=tuple(pagination.get("cursor", "").split(".")) if pagination.get(
                "cursor") else (),
            cursor_param=pagination.get("cursor_param"),
            page_size_param=pagination.get("page_size_param"),
            max_page_size=pagination.get("max_page_size"),
        ) if pagination else None,
        raw=_frozen(op),
        scopes=tuple(op.get("scopes") or ()),
    )

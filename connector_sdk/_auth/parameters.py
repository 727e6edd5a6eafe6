"""Checking authentication parameter values against a service's parameter schema.

This is where secret values enter the SDK, so it is careful about three things: every invalid
field is listed at once (a user fixing one field at a time is a user retrying with their
secret on the command line); no message quotes a value (jsonschema's own messages do, so
``_manifest/schema_errors`` builds ours from the failing keyword); and secret values leave as
``Secret`` instances. The validator is the service's own (``Service.parameters_validator``),
built once and kept with it; its patterns run in RE2, so no value can make it backtrack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._config import parse_bool
from .._errors import ParameterError
from .._hints import did_you_mean
from .._http.headers import header_value_problem
from .._manifest.model import Service
from .._manifest.schema_errors import describe
from .._secrets import Secret, SecretReference, reveal
from .secret_refs import as_reference

__all__ = ["coerce_text", "validate_parameters"]

#: Never valid in a parameter, whatever its schema says (a line break in a header value).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_parameters(service: Service, values: Mapping[str, Any]) -> dict[str, Any]:
    """Checked values with defaults applied and secrets wrapped; ``ParameterError`` otherwise.

    ``ParameterError.fields`` maps each offending parameter to its reasons, so a caller (the
    CLI, a UI) can show all of them next to their fields.
    """
    declared = {p.name: p for p in service.parameters}
    fields: dict[str, list[str]] = {}
    for name in values:
        if name not in declared:
            hint = did_you_mean(name, declared)
            fields.setdefault(name, []).append(
                "is not a parameter of this service"
                + (hint or f" (parameters: {', '.join(declared)})"))
    references: dict[str, SecretReference] = {}
    for name, value in values.items():
        try:
            reference = as_reference(value)
        except ValueError as exc:
            fields.setdefault(name, []).append(str(exc))
            continue
        if reference is not None and name in declared:
            if declared[name].secret:
                references[name] = reference
            else:
                fields.setdefault(name, []).append(
                    "is a secret reference, but only secret parameters take one")
    # a reference's value is checked when it is resolved (secret_refs), not here
    plain = {k: reveal(v) for k, v in values.items()
             if k in declared and k not in references and k not in fields}
    in_header = {n: header for header, template in service.auth.headers.items()
                 for n in template.names}
    for name, value in plain.items():
        problem = header_value_problem(value) if isinstance(value, str) else None
        if name in in_header and problem is not None:
            # checked here, where the field is known: sent, httpx would quote the value
            fields.setdefault(name, []).append(
                f"goes in the '{in_header[name]}' header and {problem}")
        elif isinstance(value, str) and _CONTROL.search(value):
            fields.setdefault(name, []).append(
                "contains a control character (a line break?): remove it")
    for spec in service.parameters:
        if spec.name not in plain and spec.has_default:
            plain[spec.name] = spec.default
    for error in service.parameters_validator().iter_errors(plain):
        if error.validator == "required":
            for name in (n for n in error.validator_value
                         if n not in plain and n not in references and n not in fields):
                fields.setdefault(name, []).append("is required")
            continue
        path = list(error.absolute_path)
        name = str(path[0]) if path else ""
        if error.validator == "additionalProperties":
            continue  # unknown names are reported above, with a suggestion
        fields.setdefault(name, []).append(describe(error))
    if fields:
        detail = "; ".join(f"{name or '(parameters)'} {', '.join(reasons)}"
                           for name, reasons in sorted(fields.items()))
        raise ParameterError(
            f"invalid parameters for service '{service.id}': {detail}"
            " (see `connector-sdk services` for each parameter's constraints)",
            service=service.id, fields=fields)
    return {
        **{name: Secret(str(value)) if declared[name].secret else value
           for name, value in plain.items()},
        **references,
    }


def coerce_text(service: Service, name: str, text: str) -> Any:
    """Turn command-line text into the parameter's JSON type (``42`` for an integer)."""
    spec = service.parameter(name)
    if spec is None or spec.type in (None, "string"):
        return text
    try:
        if spec.type == "integer":
            return int(text)
        if spec.type == "number":
            return float(text)
        if spec.type == "boolean" and (flag := parse_bool(text)) is not None:
            return flag
    except ValueError:
        pass
    return text  # left for the schema check to report with the right reason

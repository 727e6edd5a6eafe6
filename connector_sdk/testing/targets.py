"""Where a manifest's requests go, so the kit's servers can stand where the real hosts are.

The conformance suite never edits a manifest. It renders the manifest's token URL and base
URL with an authentication's values, as the runtime does (network policy included), and
puts the kit's token server and API routes at those hosts and paths on one loopback server;
the runtime is then routed there with the real URLs kept (``--local-server``), so the test
exercises exactly the URLs, headers and token attachment the connector ships.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._http.policy import render_url
from .._manifest.model import Authentication, OperationSpec, Service
from .._operations.requests import render_path

__all__ = ["Targets", "example_parameters"]


@dataclass(frozen=True)
class Targets:
    """The rendered token endpoint and API base of one authentication."""

    token_host: str
    token_path: str
    api_host: str
    api_path: str

    @classmethod
    def of(cls, authentication: Authentication) -> Targets:
        service = authentication.service
        values = authentication.parameters
        token = render_url(service.auth.token_url, values, service=service.id,
                           url_name="token_url", allowed_hosts=service.allowed_hosts)
        base = render_url(service.base_url, values, service=service.id, url_name="base_url",
                          allowed_hosts=service.allowed_hosts)
        return cls(token.host, token.path, base.host, base.path.rstrip("/"))

    def operation_path(self, service: Service, operation: OperationSpec,
                       values: Mapping[str, Any]) -> str | None:
        """The path a declarative operation requests with ``values`` (None for a handler)."""
        if operation.request is None:
            return None
        name = f"{service.id}.{operation.id}"
        return self.api_path + render_path(name, operation.request.path, values)


_CONSTRAINTS = ("pattern", "enum", "const", "format", "minLength", "maxLength")


def example_parameters(service: Service, given: Mapping[str, Any]) -> dict[str, Any]:
    """Values for the non-secret parameters: ``given`` first, then the schema's first
    ``examples`` entry, then (left to the default when there is one) ``conformance-NAME``
    for a required unconstrained string; ``KeyError`` names a required one with none."""
    values = dict(given)
    properties = service.parameters_schema.get("properties", {})
    for spec in service.parameters:
        if spec.secret or spec.name in values:
            continue
        schema = properties.get(spec.name, {})
        if schema.get("examples"):
            values[spec.name] = schema["examples"][0]
        elif not spec.required or spec.has_default:
            continue
        elif schema.get("type") == "string" and not any(k in schema for k in _CONSTRAINTS):
            values[spec.name] = f"conformance-{spec.name}"
        else:
            raise KeyError(spec.name)
    return values

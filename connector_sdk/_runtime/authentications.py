"""A ``Runtime``'s authentications: checked values, records read back, deletion with revocation.

The ``Runtime`` methods of the same names call these; what callers may rely on:

* **Checked before anything is kept** (``ephemeral``): the values against the service's
  schema (every invalid field listed, no value quoted), secret references against the
  installed resolvers, and the service's URLs rendered with them, so a value the network
  policy refuses is reported naming the parameter when the authentication is made, not at
  its first request.
* **Re-checked when read** (``from_record``): a stored record against the service's current
  manifest (defaults added since creation apply; a record the manifest no longer accepts is
  a ``ParameterError`` saying to create it again).
* **Deletion always deletes** (``delete``): the held token is revoked first where the manifest
  declares revocation, and a failed revocation is reported in the result, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .._auth.parameters import validate_parameters
from .._auth.secret_refs import bind_references, unknown_schemes
from .._errors import ConnectorSDKError, ParameterError
from .._manifest.model import Authentication, Service
from .._telemetry import get_logger

if TYPE_CHECKING:
    from .._auth.manager import TokenManager
    from .._auth.revocation import RevocationResult
    from .._http.settings import HttpSettings
    from .._plugins.registry import ServiceRegistry
    from .._stores.sqlite import AuthenticationRecord, AuthenticationStore

__all__ = ["delete", "ephemeral", "from_record"]

log = get_logger("connector_sdk.runtime")


class StoreRuntime(Protocol):
    """What these functions use of a ``Runtime`` (not imported: the runtime imports this)."""

    @property
    def services(self) -> ServiceRegistry: ...

    def service(self, service_id: str) -> Service: ...

    @property
    def store(self) -> AuthenticationStore: ...

    @property
    def tokens(self) -> TokenManager: ...

    http: HttpSettings


def ephemeral(runtime: StoreRuntime, service_id: str, parameters: Mapping[str, Any], *,
              name: str) -> Authentication:
    """``Runtime.authentication``: checked values, references bound, nothing stored."""
    service = runtime.service(service_id)
    values = validate_parameters(service, parameters)
    resolvers = runtime.services.secret_resolvers
    unknown = unknown_schemes(values, resolvers)
    if unknown:
        raise ParameterError(
            f"invalid parameters for service '{service.id}': " + "; ".join(
                f"{n} {', '.join(r)}" for n, r in sorted(unknown.items())),
            service=service.id, fields=unknown)
    values = bind_references(values, resolvers, service=service.id, authentication=name)
    _check_urls(service, values)
    return Authentication(name=name, service=service, parameters=values)


def from_record(runtime: StoreRuntime, record: AuthenticationRecord) -> Authentication:
    """The authentication a stored record stands for, re-checked against its manifest."""
    service = runtime.service(record.service)
    try:
        values = validate_parameters(service, record.parameters)
    except ParameterError as exc:
        raise ParameterError(
            f"authentication '{record.name}' no longer satisfies service"
            f" '{service.id}' {service.version}: {exc} — delete and create it again",
            service=service.id, fields=exc.fields) from None
    values = bind_references(values, runtime.services.secret_resolvers, service=service.id,
                             authentication=record.name)
    return Authentication(name=record.name, service=service, parameters=values,
                          created_at=record.created_at, updated_at=record.updated_at,
                          grant=record.grant)


def delete(runtime: StoreRuntime, name: str) -> RevocationResult | None:
    """``Runtime.delete_authentication``: revoke where declared, forget, then delete."""
    from .._auth.revocation import RevocationResult, revoke

    record = runtime.store.get(name)
    result: RevocationResult | None = None
    try:
        authentication = from_record(runtime, record)
        if authentication.service.auth.revocation is not None:
            result = revoke(authentication, runtime.tokens, runtime.http)
        runtime.tokens.forget(authentication)
    except ConnectorSDKError as exc:  # unknown service, unreadable secret, refused URL
        log.warning("authentication %s: token not revoked (%s)", name, exc)
        result = RevocationResult(
            ok=False, revoked=False,
            message=f"authentication '{name}': its token was not revoked: {exc}")
    runtime.store.delete(name)
    return result


def _check_urls(service: Service, values: Mapping[str, Any]) -> None:
    """Render the service's URLs with ``values`` now, so that a value the network policy
    refuses (a host outside ``allowed_hosts``, a missing parameter) is reported when the
    authentication is created, naming the parameter, not at its first request. The scheme
    is checked on every request, where ``allow_loopback`` applies."""
    from .._http.policy import render_url

    urls = [("token_url", service.auth.token_url), ("base_url", service.base_url)]
    if service.auth.revocation is not None:
        urls.append(("revocation url", service.auth.revocation.url))
    for url_name, template in urls:
        render_url(template, values, service=service.id, url_name=url_name,
                   allowed_hosts=service.allowed_hosts, allow_loopback=True)

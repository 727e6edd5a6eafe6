"""What the page does with a post: the runtime's own calls, and their errors per field.

Client credentials: the values are checked and the token endpoint is asked for one token
with an authentication that is not stored yet (``Runtime.authentication`` + ``get_token``);
only when a token came back is it stored under its name (``create_authentication``), so a
failure stores nothing, even if the process dies half-way. Authorization code: the runtime
begins the flow for the organisation (its white-labelled redirect URL) and the browser goes
to the provider; the callback completes it.

Errors become ``Refusal``: reasons per parameter (the runtime's ``ParameterError.fields``, a
``NetworkPolicyError``'s parameter) and general ones, each saying how to fix it. Every text
comes from the SDK's own messages, which never quote a secret value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import (
    AuthenticationExists,
    AuthenticationNotFound,
    ConnectorSDKError,
    NetworkPolicyError,
    ParameterError,
    TokenError,
)
from .._manifest.model import Service
from .config import ServiceChoice

if TYPE_CHECKING:
    from .._runtime.runtime import Runtime
    from .._stores.protocol import AuthenticationRecord

__all__ = ["Refusal", "begin", "complete", "connect_client_credentials", "grant_of"]

log = logging.getLogger("connector_sdk.connect_page")


@dataclass
class Refusal(Exception):
    """Why a post did not connect: ``fields`` by parameter name, ``general`` otherwise;
    ``token_request`` when the provider was asked (and refused)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    token_request: bool = False


def grant_of(service: Service, choice: ServiceChoice) -> str:
    """The grant the page uses for ``service``: the configured one, else the manifest's
    first."""
    return choice.grant or str(service.auth.grant)


def _fix_hint(service: Service, name: str, reason: str) -> str:
    """A reason with the way to fix it, when the schema gives an example."""
    schema = service.parameters_schema.get("properties", {}).get(name, {})
    examples = schema.get("examples") if isinstance(schema, Mapping) else None
    spec = service.parameter(name)
    if isinstance(examples, list) and examples and spec is not None and not spec.secret \
            and reason != "is required":
        return f"{reason}: enter it like {examples[0]}"
    return reason


def _refusal(service: Service, exc: ConnectorSDKError) -> Refusal:
    if isinstance(exc, ParameterError):
        return Refusal(fields={name: [_fix_hint(service, name, r) for r in reasons]
                               for name, reasons in exc.fields.items()})
    if isinstance(exc, NetworkPolicyError) and exc.parameter:
        return Refusal(fields={exc.parameter: [str(exc)]})
    if isinstance(exc, AuthenticationExists):
        return Refusal(general=[f"{exc}: ask for a new link with another connection name"])
    if isinstance(exc, TokenError):
        return Refusal(general=[f"{service.title} did not give a token with these values, so"
                                f" nothing was saved: {exc}"], token_request=True)
    return Refusal(general=[str(exc)])


def _values(choice: ServiceChoice, typed: Mapping[str, Any]) -> dict[str, Any]:
    return {**typed, **choice.fixed}


def _refuse_existing(runtime: Runtime, name: str) -> None:
    """``AuthenticationExists`` when ``name`` is taken. The page only ever creates: records
    carry no organisation, so replacing an existing one (new tokens for either grant) could
    hand one organisation's connection to another's end user."""
    try:
        runtime.store.get(name)
    except AuthenticationNotFound:
        return
    raise AuthenticationExists(f"a connection named '{name}' already exists", name=name)


def connect_client_credentials(runtime: Runtime, service: Service, choice: ServiceChoice,
                               name: str, typed: Mapping[str, Any]) -> None:
    """Create ``name`` from the typed values plus the fixed ones once one token request
    succeeded with them; ``Refusal`` otherwise (nothing stored)."""
    values = _values(choice, typed)
    try:
        _refuse_existing(runtime, name)
        trial = runtime.authentication(service.id, values, name=name)
        try:
            runtime.get_token(trial)
        except TokenError:
            # the user fixes a value and retries at once: no cooldown from this attempt
            runtime.tokens.forget(trial)
            raise
        runtime.create_authentication(service.id, name, values)
    except ConnectorSDKError as exc:
        log.info("connect page: authentication %r of service %s not created: %s",
                 name, service.id, type(exc).__name__)
        raise _refusal(service, exc) from None
    log.info("connect page: authentication %r of service %s created and tested",
             name, service.id)


def begin(runtime: Runtime, service: Service, choice: ServiceChoice, name: str,
          typed: Mapping[str, Any], organisation: str) -> str:
    """The provider's authorization URL for ``organisation``'s user; ``Refusal`` otherwise,
    the existing-name one too (the page never reconnects an existing authentication)."""
    values = _values(choice, typed)
    try:
        _refuse_existing(runtime, name)
        request = runtime.begin_authorization(service.id, name, values,
                                              organisation=organisation, scopes=choice.scopes)
    except ConnectorSDKError as exc:
        log.info("connect page: authorization of %r (service %s) not begun: %s",
                 name, service.id, type(exc).__name__)
        raise _refusal(service, exc) from None
    return str(request.url)


def complete(runtime: Runtime, callback_url: str, organisation: str) -> AuthenticationRecord:
    """The stored record once the runtime completed the flow; ``ConnectorSDKError``
    (``AuthorizationError`` with its ``reason``) otherwise."""
    return runtime.complete_authorization(callback_url, organisation=organisation)

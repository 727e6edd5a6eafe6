"""The in-memory form of a validated service manifest.

These frozen dataclasses are what the rest of the SDK reads: the runtime, the token layer,
the operation runner and the CLI never look at raw YAML. ``_manifest.build_service`` makes
them from a document that passed the JSON Schema and the semantic checks, so code reading
them may rely on every field being present and consistent (every placeholder names a
declared parameter, every URL is absolute, every host template is constrained).

The ``auth`` field is a ``ClientCredentialsAuth`` today; other grant types (authorization
code) become sibling classes discriminated by ``grant`` in the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .dialect import Validators
from .templates import Template

__all__ = [
    "Authentication",
    "ClientAuthMethod",
    "ClientCredentialsAuth",
    "OperationSpec",
    "PaginationSpec",
    "ParameterSpec",
    "RateLimitSpec",
    "RequestSpec",
    "RevocationSpec",
    "Service",
]

ClientAuthMethod = Literal["client_secret_post", "client_secret_basic"]

#: Names a header template may use besides the authentication parameters.
TOKEN_FIELDS = frozenset({"access_token", "token_type"})

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """One authentication parameter, as declared by a property of the parameter schema."""

    name: str
    secret: bool
    required: bool
    type: str | None = None
    title: str | None = None
    description: str | None = None
    default: Any = None
    has_default: bool = False


@dataclass(frozen=True, slots=True)
class RevocationSpec:
    """Where and how to revoke a token when an authentication is deleted (RFC 7009-like)."""

    url: Template
    fields: Mapping[str, Template]
    client_auth: ClientAuthMethod | Literal["none"] = "none"


@dataclass(frozen=True, slots=True)
class ClientCredentialsAuth:
    """OAuth2 client-credentials grant (RFC 6749 §4.4) and how the token is attached."""

    token_url: Template
    client_id: Template
    client_secret: Template
    headers: Mapping[str, Template]
    client_auth: ClientAuthMethod = "client_secret_post"
    scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    token_request_fields: Mapping[str, Template] = field(default_factory=lambda: _EMPTY)
    default_token_type: str | None = None
    accepted_token_types: tuple[str, ...] = ("bearer",)
    default_expires_in: int = 3600
    revocation: RevocationSpec | None = None
    grant: Literal["client_credentials"] = "client_credentials"


@dataclass(frozen=True, slots=True)
class PaginationSpec:
    """How an operation's results continue on the next page.

    ``style`` is ``cursor`` (a cursor read from the body at ``cursor_path`` and sent back as the
    query parameter ``cursor_param``) or ``link`` (the ``Link`` header's ``rel="next"`` URL).
    ``items_path`` is where the page's list of items sits in the body.
    """

    style: Literal["cursor", "link"]
    items_path: tuple[str, ...]
    cursor_path: tuple[str, ...] = ()
    cursor_param: str | None = None
    page_size_param: str | None = None
    max_page_size: int | None = None


RateLimitStyle = Literal["reset_header", "used_of_size", "retry_after"]


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """A rate-limit bucket the manifest declares (``rate_limits: {name: ...}``): how the
    API's answers say the bucket's level, so that the core needs no provider's header names.

    ``style`` ``reset_header``: ``remaining_header`` counts what is left, ``reset_header``
    is the Unix time (epoch seconds) at which the bucket is full again, ``limit_header`` (if
    given) its size, and ``window`` the seconds it takes to refill fully, used until the
    headers give a better estimate. ``used_of_size``: ``header`` reads ``used/size`` of a
    leaky bucket that leaks its size every ``leak_window`` seconds, never slower than
    ``min_leak_rate`` calls a second. ``retry_after``: only ``429`` + ``Retry-After``, which
    every style honours (RFC 9110 §10.2.3); a plugin's handler may report throttling itself.
    ``description`` is for readers (``connector-sdk docs``). The loader guarantees the
    fields of the style are present.
    """

    name: str
    style: RateLimitStyle
    remaining_header: str | None = None
    reset_header: str | None = None
    limit_header: str | None = None
    window: float | None = None
    header: str | None = None
    leak_window: float | None = None
    min_leak_rate: float = 0.0
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """A declarative HTTP request: values are templates over the operation's inputs."""

    method: str
    path: Template
    query: Mapping[str, Template] = field(default_factory=lambda: _EMPTY)
    headers: Mapping[str, Template] = field(default_factory=lambda: _EMPTY)
    body: Any = None


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """An operation a workflow step can run: declarative request or a plugin's handler."""

    id: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None = None
    request: RequestSpec | None = None
    handler: str | None = None
    pagination: PaginationSpec | None = None
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    #: The input validator, built on first use and kept with this operation (and so with
    #: the registry, and the runtime, that hold it).
    validators: Validators = field(default_factory=Validators, init=False, repr=False,
                                   compare=False)

    def input_validator(self, name: str) -> Any:
        """The validator of this operation's input (``name``: ``service.operation``)."""
        return self.validators.get("input", self.input_schema, name=f"operation '{name}' input")


@dataclass(frozen=True, slots=True)
class Service:
    """A validated service manifest; ``source`` says where it was read from."""

    id: str
    title: str
    version: str
    description: str
    parameters_schema: Mapping[str, Any]
    parameters: tuple[ParameterSpec, ...]
    auth: ClientCredentialsAuth
    allowed_hosts: tuple[str, ...]
    base_url: Template
    operations: Mapping[str, OperationSpec]
    source: str
    plugin: str | None = None
    distribution: str | None = None
    #: The rate-limit buckets operations name in ``rate_limit`` (each one is declared here).
    rate_limits: Mapping[str, RateLimitSpec] = field(default_factory=lambda: _EMPTY)
    #: ``telemetry.propagate_trace_context``: W3C ``traceparent`` goes on this service's API
    #: requests (never on token or revocation requests); off unless the manifest says so.
    propagate_trace_context: bool = False
    #: The parameter validator, built on first use and kept with this service.
    validators: Validators = field(default_factory=Validators, init=False, repr=False,
                                   compare=False)

    def parameters_validator(self) -> Any:
        """The validator of this service's authentication parameters."""
        return self.validators.get("parameters", self.parameters_schema,
                                   name=f"service '{self.id}' parameters")

    @property
    def secret_parameters(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parameters if p.secret)

    def parameter(self, name: str) -> ParameterSpec | None:
        for spec in self.parameters:
            if spec.name == name:
                return spec
        return None


@dataclass(frozen=True, slots=True)
class Authentication:
    """A service plus concrete parameter values: what tokens are obtained for.

    ``parameters`` passed the service's parameter schema (defaults applied); secret values are
    ``Secret`` instances, so printing an ``Authentication`` never shows one.
    """

    name: str
    service: Service
    parameters: Mapping[str, Any]
    created_at: str | None = None
    updated_at: str | None = None

    def __repr__(self) -> str:  # the Service with every operation schema is kilobytes long
        return (f"Authentication(name={self.name!r}, service={self.service.id!r},"
                f" parameters={dict(self.parameters)!r})")

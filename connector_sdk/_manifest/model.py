"""The in-memory form of a validated service manifest.

These frozen dataclasses are what the rest of the SDK reads: the runtime, the token layer,
the operation runner and the CLI never look at raw YAML. ``_manifest.build_service`` makes
them from a document that passed the JSON Schema and the semantic checks, so code reading
them may rely on every field being present and consistent (every placeholder names a
declared parameter, every URL is absolute, every host template is constrained).

The ``auth`` field is an ``OAuth2Auth``: the token endpoint, client authentication, scope
separator and token headers every grant shares, the grants the service offers (``grants``,
the first is the default) and, when the authorization-code grant is among them, its own
block (``authorization_code``). ``ClientCredentialsAuth`` is the former name, kept as an alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .dialect import Validators
from .templates import Template

__all__ = [
    "AUTHORIZATION_CODE",
    "CLIENT_CREDENTIALS",
    "GRANT_NAMES",
    "Authentication",
    "AuthorizationCodeSpec",
    "CallbackSignatureSpec",
    "ClientAuthMethod",
    "ClientCredentialsAuth",
    "OAuth2Auth",
    "OperationSpec",
    "PaginationSpec",
    "ParameterSpec",
    "RateLimitSpec",
    "RequestSpec",
    "RevocationSpec",
    "Service",
]

ClientAuthMethod = Literal["client_secret_post", "client_secret_basic"]

CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
#: The grants a manifest's ``auth.grant`` may name (RFC 6749 §4.4 and §4.1).
GRANT_NAMES = (CLIENT_CREDENTIALS, AUTHORIZATION_CODE)

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
class CallbackSignatureSpec:
    """How the provider signs the query of its redirect back to us (Shopify's ``hmac``).

    ``sorted_query_hmac_sha256``: remove ``parameter`` from the query, sort the remaining
    ``key=value`` pairs, join them with ``&`` and compare the hex HMAC-SHA256 under ``secret``
    (a template naming one secret parameter) in constant time. ``max_age``: seconds the
    callback's ``timestamp`` query parameter may differ from now (``None``: not checked).
    """

    style: Literal["sorted_query_hmac_sha256"]
    parameter: str
    secret: Template
    max_age: float | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationCodeSpec:
    """What the authorization-code grant (RFC 6749 §4.1) adds to the shared ``auth`` block.

    ``authorization_url`` obeys the same placeholder, secret and host rules as ``token_url``;
    ``scopes`` are asked for at consent unless the caller names others; ``pkce`` is ``S256``
    when the provider supports RFC 7636. ``authorization_parameters`` are extra query
    parameters of the authorization URL (never a secret, never one the flow sets itself);
    ``token_request_fields`` extra form fields of the code exchange. ``redirect_urls`` says
    whether the provider accepts several registered redirect URLs or one. ``callback_parameters``
    maps a callback query parameter to the authentication parameter it must equal (Shopify's
    ``shop`` to ``shopify_url``). The loader guarantees every name here is declared.
    """

    authorization_url: Template
    scopes: tuple[str, ...] = ()
    pkce: Literal["S256", "none"] = "none"
    authorization_parameters: Mapping[str, Template] = field(default_factory=lambda: _EMPTY)
    token_request_fields: Mapping[str, Template] = field(default_factory=lambda: _EMPTY)
    redirect_urls: Literal["multiple", "single"] = "multiple"
    refresh_token_rotation: bool = False
    callback_parameters: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    callback_signature: CallbackSignatureSpec | None = None


@dataclass(frozen=True, slots=True)
class OAuth2Auth:
    """How tokens are obtained (OAuth2 grants sharing one token endpoint) and attached.

    ``grants`` lists the grants the service offers, the default first; ``grant`` is that
    default. ``scopes`` and ``token_request_fields`` are the client-credentials grant's (RFC
    6749 §4.4); ``authorization_code`` is set exactly when that grant is offered.
    """

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
    grants: tuple[str, ...] = (CLIENT_CREDENTIALS,)
    authorization_code: AuthorizationCodeSpec | None = None

    @property
    def grant(self) -> str:
        """The default grant: the first of ``grants``."""
        return self.grants[0]

    def offers(self, grant: str) -> bool:
        """Whether the service offers ``grant`` (``client_credentials``, ...)."""
        return grant in self.grants


#: The former name of ``OAuth2Auth``, from when client credentials was the only grant.
ClientCredentialsAuth = OAuth2Auth


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
    #: Scopes the token must have been granted; checked before any request is sent.
    scopes: tuple[str, ...] = ()
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
    auth: OAuth2Auth
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
    #: How its tokens are obtained (a stored record's grant); None: the manifest's default.
    grant: str | None = None

    def __repr__(self) -> str:  # the Service with every operation schema is kilobytes long
        return (f"Authentication(name={self.name!r}, service={self.service.id!r},"
                f" parameters={dict(self.parameters)!r})")

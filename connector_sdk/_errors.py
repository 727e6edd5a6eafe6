"""The exceptions connector-sdk raises, as one tree.

Callers catch the narrowest class that they can act on, or ``ConnectorSDKError`` for all of
them. Every message names the thing at fault (file and line, service, authentication, step,
parameter) and how to fix it, and never contains a secret value: context is passed as
keyword-only arguments so that it is data, not interpolated text.

    ConnectorSDKError
    ├── ManifestError            a service manifest is invalid (carries ``problems``)
    ├── PluginError              a plugin failed to load or registered something invalid
    ├── ServiceNotFound          no installed service has that id
    ├── EmulatorNotFound         no installed plugin provides an emulator for that service
    ├── ParameterError           authentication parameters do not satisfy the service's schema
    ├── AuthenticationMismatch   the authentication is of another service than the one called
    ├── NetworkPolicyError       a rendered URL is not allowed (scheme, host, injection)
    ├── ConfigError              a setting (HttpSettings, HTTPS_PROXY...) is unusable
    │   └── RedirectsError       the redirect configuration is invalid (``problems``), or
    │                            names no such organisation
    ├── StoreError               the authentication store cannot be used
    │   ├── AuthenticationNotFound
    │   ├── AuthenticationExists
    │   ├── AuthenticationConflict  changed by someone else since it was read
    │   └── SecretKeyError       the secret key cannot decrypt the store's secrets
    ├── TokenError               no access token could be obtained
    │   ├── TokenTransportError  timeout or connection failure talking to the token endpoint
    │   ├── TokenEndpointError   the token endpoint answered with an error status
    │   ├── TokenResponseError   the token endpoint answered 200 with an unusable body
    │   ├── SecretReferenceError a parameter's secret reference cannot be resolved
    │   └── NeedsReconsent       the user's consent is gone: connect the authentication again
    ├── AuthorizationError       an authorization-code flow was refused (``reason``)
    ├── APIError                 an API request failed (status, provider message)
    │   ├── UnauthorizedError    the API rejected a freshly obtained token too
    │   └── RateLimitError       still rate limited after waiting within the bounds
    ├── OperationError           an operation is unknown or its input is invalid
    │   └── MissingScopesError   the token lacks scopes the operation declares
    ├── WorkflowError            a workflow file is invalid (``problems``) or its run failed
    │                            (``report``)
    └── EventLoopError           a sync entry point was called inside a running event loop
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._problems import Problem

__all__ = [
    "APIError",
    "AuthenticationConflict",
    "AuthenticationExists",
    "AuthenticationMismatch",
    "AuthenticationNotFound",
    "AuthorizationError",
    "ConfigError",
    "ConnectorSDKError",
    "EmulatorNotFound",
    "EventLoopError",
    "ManifestError",
    "MissingScopesError",
    "NeedsReconsent",
    "NetworkPolicyError",
    "OperationError",
    "ParameterError",
    "PluginError",
    "RateLimitError",
    "RedirectsError",
    "SecretKeyError",
    "SecretReferenceError",
    "ServiceNotFound",
    "StoreError",
    "TokenEndpointError",
    "TokenError",
    "TokenResponseError",
    "TokenTransportError",
    "UnauthorizedError",
    "WorkflowError",
]


class ConnectorSDKError(Exception):
    """Base of every error connector-sdk raises on purpose."""


def _with_problems(head: str, problems: Sequence[Problem]) -> str:
    return head + "".join("\n  " + p.format_text() for p in problems)


class ManifestError(ConnectorSDKError):
    """A service manifest is invalid; ``problems`` lists every problem found."""

    def __init__(self, message: str, *, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)

    def __str__(self) -> str:
        return _with_problems(super().__str__(), self.problems)


class PluginError(ConnectorSDKError):
    """A plugin could not be loaded, or registered something invalid or duplicated."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class ServiceNotFound(ConnectorSDKError):
    """No installed service has the requested id."""

    def __init__(self, message: str, *, service: str) -> None:
        super().__init__(message)
        self.service = service


class EmulatorNotFound(ConnectorSDKError):
    """No installed plugin registers an emulator for ``service`` (``--sandbox``,
    ``Runtime(sandbox=True)``, ``connector-sdk sandbox``); the message says how to fix it."""

    def __init__(self, message: str, *, service: str) -> None:
        super().__init__(message)
        self.service = service


class ParameterError(ConnectorSDKError):
    """Authentication parameters do not satisfy the service's parameter schema.

    ``fields`` maps each offending parameter name (or ``""`` for the whole object) to the
    reasons; the reasons never quote a secret value.
    """

    def __init__(
        self, message: str, *, service: str, fields: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.service = service
        self.fields = dict(fields or {})


class AuthenticationMismatch(ConnectorSDKError):
    """The authentication ``name`` belongs to service ``service``, but ``expected`` was called.

    Not a store problem (the authentication exists and is intact) and not a bad input of the
    operation: the caller named the wrong authentication, or a workflow step the wrong one.
    """

    def __init__(self, message: str, *, name: str, service: str, expected: str) -> None:
        super().__init__(message)
        self.name = name
        self.service = service
        self.expected = expected


class NetworkPolicyError(ConnectorSDKError):
    """A URL was refused before any request left: scheme, host or an injected parameter."""

    def __init__(
        self,
        message: str,
        *,
        url_name: str | None = None,
        parameter: str | None = None,
        service: str | None = None,
    ) -> None:
        super().__init__(message)
        self.url_name = url_name
        self.parameter = parameter
        self.service = service


class ConfigError(ConnectorSDKError):
    """A setting cannot be used (a proxy URL in ``HttpSettings.proxy`` or ``HTTPS_PROXY``...);
    ``setting`` names it. The message never quotes a credential the setting holds."""

    def __init__(self, message: str, *, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


class RedirectsError(ConfigError):
    """The redirect configuration (``CONNECTOR_SDK_REDIRECTS``, ``Runtime(redirects=...)``)
    is invalid: ``problems`` lists each (file:line, rule, fix); or a caller named an
    ``organisation`` the configuration does not have (the message suggests the closest)."""

    def __init__(self, message: str, *, setting: str = "CONNECTOR_SDK_REDIRECTS",
                 problems: Sequence[Problem] = (), organisation: str | None = None) -> None:
        super().__init__(message, setting=setting)
        self.problems = list(problems)
        self.organisation = organisation

    def __str__(self) -> str:
        return _with_problems(super().__str__(), self.problems)


class StoreError(ConnectorSDKError):
    """The authentication store cannot be opened, read or written."""


class AuthenticationNotFound(StoreError):
    """No authentication has that name."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


class AuthenticationExists(StoreError):
    """An authentication with that name exists already."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


class AuthenticationConflict(StoreError):
    """An update lost a race: the authentication changed since it was read; read and retry."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


class SecretKeyError(StoreError):
    """The configured secret key cannot decrypt the store's secrets (wrong or missing key)."""


class TokenError(ConnectorSDKError):
    """No access token could be obtained for an authentication.

    ``permanent`` is true when retrying cannot help (bad credentials, bad scope): callers and
    the token manager stop retrying on those.
    """

    permanent: bool = False

    def __init__(
        self,
        message: str,
        *,
        service: str,
        authentication: str,
        status: int | None = None,
        provider_message: str | None = None,
        oauth_error: str | None = None,
        permanent: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.authentication = authentication
        self.status = status
        self.provider_message = provider_message
        self.oauth_error = oauth_error
        if permanent is not None:
            self.permanent = permanent


class TokenTransportError(TokenError):
    """The token endpoint could not be reached or did not answer in time."""


class TokenEndpointError(TokenError):
    """The token endpoint answered with an error status (RFC 6749 §5.2 or a provider's own)."""


class TokenResponseError(TokenError):
    """The token endpoint answered 200 but the body is not a usable token (RFC 6749 §5.1)."""


class SecretReferenceError(TokenError):
    """A parameter's value is a secret reference (``{"$secret": "env:NAME"}``) that cannot be
    resolved now: unknown scheme, missing variable, file or keyring entry, a resolver that
    failed. ``parameter`` and ``scheme`` name it; the message never shows a secret value.
    Not cooled down: no request was sent, and the next call after the operator fixes the
    source resolves it again."""

    def __init__(self, message: str, *, service: str, authentication: str, parameter: str,
                 scheme: str) -> None:
        super().__init__(message, service=service, authentication=authentication)
        self.parameter = parameter
        self.scheme = scheme


class NeedsReconsent(TokenError):
    """The refresh token of an authorization-code authentication was refused
    (``invalid_grant``: revoked, expired or spent): the record is kept, marked
    ``needs_reconsent``, and every call on it raises this until the user connects it again
    (``connector-sdk auth connect SERVICE --name NAME``). Permanent: retrying cannot help."""

    permanent = True


class AuthorizationError(ConnectorSDKError):
    """An authorization-code flow was refused; ``reason`` says why, as a stable code:
    ``state_unknown``, ``state_expired``, ``state_replayed``, ``organisation_mismatch``,
    ``access_denied`` (the user declined), ``signature_invalid``,
    ``callback_parameter_invalid``, ``callback_invalid``, ``invalid_grant`` (the code was
    refused: spent, expired, or the PKCE verifier did not match), ``not_offered``. The
    message never contains the code, the state or a secret."""

    def __init__(self, message: str, *, reason: str, service: str | None = None,
                 authentication: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.service = service
        self.authentication = authentication


class APIError(ConnectorSDKError):
    """An API request failed; names the service, operation and authentication, never a secret."""

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        authentication: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        provider_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.authentication = authentication
        self.operation = operation
        self.status = status
        self.provider_message = provider_message


class UnauthorizedError(APIError):
    """The API answered 401 to a request made with a freshly obtained token."""


class RateLimitError(APIError):
    """The API kept rate-limiting after the SDK waited within its bounds."""


class OperationError(ConnectorSDKError):
    """An operation is unknown, or its input does not satisfy its input schema."""

    def __init__(
        self, message: str, *, operation: str | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.details = details


class MissingScopesError(OperationError):
    """An operation declares scopes (``scopes:`` in its manifest) that the authentication's
    token was not granted; raised before any API request is sent. ``missing`` lists them in
    the manifest's order; the fix is to connect the authentication again, consenting to
    them (or, for client credentials, to ask for them in ``auth.scopes``). Permanent:
    retrying with the same token cannot help."""

    def __init__(self, message: str, *, operation: str, service: str, authentication: str,
                 missing: Sequence[str], grant: str | None = None) -> None:
        super().__init__(message, operation=operation, details={"missing_scopes": list(missing)})
        self.service = service
        self.authentication = authentication
        self.missing = tuple(missing)
        self.grant = grant


class WorkflowError(ConnectorSDKError):
    """A workflow file is invalid, or a run cannot start or failed.

    ``problems`` lists every problem of an invalid file (as ``ManifestError`` does for a
    manifest); ``step`` names the step at fault; ``report`` is a failed run's JSON-ready
    result up to the failure.
    """

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        report: Any = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        super().__init__(message)
        self.step = step
        self.report = report
        self.problems = list(problems)

    def __str__(self) -> str:
        return _with_problems(super().__str__(), self.problems)


class EventLoopError(ConnectorSDKError):
    """A synchronous entry point (``call_operation_sync``, ``run_workflow_sync``) was called
    where an event loop is running: ``entry_point`` names it, ``use`` the async twin to
    await there instead."""

    def __init__(self, message: str, *, entry_point: str, use: str) -> None:
        super().__init__(message)
        self.entry_point = entry_point
        self.use = use


# Tracebacks and logs show ``connector_sdk.APIError``, the name callers import and catch,
# not this private module (httpx does the same for its exceptions). Only the exceptions:
# other classes keep their defining module, which ``typing.get_type_hints`` needs.
for _name in __all__:
    globals()[_name].__module__ = "connector_sdk"
del _name

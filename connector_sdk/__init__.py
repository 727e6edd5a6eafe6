"""connector-sdk: service manifests, connector plugins and OAuth2 client-credentials tokens.

Plugin authors and runtimes import this module and nothing deeper. Importing it is cheap: the
runtime and the HTTP layer (which import httpx) load on first use of their names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._config import RuntimeConfig
from ._errors import (
    APIError,
    AuthenticationConflict,
    AuthenticationExists,
    AuthenticationMismatch,
    AuthenticationNotFound,
    AuthorizationError,
    ConfigError,
    ConnectorSDKError,
    EmulatorNotFound,
    EventLoopError,
    ManifestError,
    MissingScopesError,
    NeedsReconsent,
    NetworkPolicyError,
    OperationError,
    ParameterError,
    PluginError,
    RateLimitError,
    RedirectsError,
    SecretKeyError,
    SecretReferenceError,
    ServiceNotFound,
    StoreError,
    TokenEndpointError,
    TokenError,
    TokenResponseError,
    TokenTransportError,
    UnauthorizedError,
    WorkflowError,
)
from ._problems import Problem
from ._secrets import Secret, json_default
from ._version import __version__

if TYPE_CHECKING:
    from ._auth.cache import TokenCache
    from ._auth.revocation import RevocationResult
    from ._auth.token import Token
    from ._http.settings import HttpSettings
    from ._manifest.loader import load_manifest, load_service
    from ._manifest.model import Authentication, OperationSpec, ParameterSpec, Service
    from ._manifest.redirects import OrganisationRedirect, Redirects, load_redirects
    from ._operations.calls import (
        OperationContext,
        PageLimits,
        call_operation,
        call_operation_sync,
        stream_items,
    )
    from ._operations.ratelimit import RateLimitPolicy
    from ._operations.scopes import missing_scopes
    from ._plugins.hookspecs import hookimpl, hookspec
    from ._plugins.registry import (
        EmulatorRegistrar,
        HandlerRegistrar,
        RegisteredEmulator,
        SecretResolverRegistrar,
        ServiceRegistrar,
        ServiceRegistry,
    )
    from ._runtime.authorization import AuthorizationRequest
    from ._runtime.runtime import Runtime
    from ._stores.sqlite import AuthenticationRecord, AuthenticationStore
    from ._workflows.executors.local import run_workflow, run_workflow_sync
    from ._workflows.loading import load_workflow
    from ._workflows.model import Workflow
    from ._workflows.results import CallResult, JsonLinesSink, RunEvent, RunResult
    from .sandbox import Emulator

__all__ = [
    "APIError",
    "Authentication",
    "AuthenticationConflict",
    "AuthenticationExists",
    "AuthenticationMismatch",
    "AuthenticationNotFound",
    "AuthenticationRecord",
    "AuthenticationStore",
    "AuthorizationError",
    "AuthorizationRequest",
    "CallResult",
    "ConfigError",
    "ConnectorSDKError",
    "Emulator",
    "EmulatorNotFound",
    "EmulatorRegistrar",
    "EventLoopError",
    "HandlerRegistrar",
    "HttpSettings",
    "JsonLinesSink",
    "ManifestError",
    "MissingScopesError",
    "NeedsReconsent",
    "NetworkPolicyError",
    "OperationContext",
    "OperationError",
    "OperationSpec",
    "OrganisationRedirect",
    "PageLimits",
    "ParameterError",
    "ParameterSpec",
    "PluginError",
    "Problem",
    "RateLimitError",
    "RateLimitPolicy",
    "Redirects",
    "RedirectsError",
    "RegisteredEmulator",
    "RevocationResult",
    "RunEvent",
    "RunResult",
    "Runtime",
    "RuntimeConfig",
    "Secret",
    "SecretKeyError",
    "SecretReferenceError",
    "SecretResolverRegistrar",
    "Service",
    "ServiceNotFound",
    "ServiceRegistrar",
    "ServiceRegistry",
    "StoreError",
    "Token",
    "TokenCache",
    "TokenEndpointError",
    "TokenError",
    "TokenResponseError",
    "TokenTransportError",
    "UnauthorizedError",
    "Workflow",
    "WorkflowError",
    "__version__",
    "call_operation",
    "call_operation_sync",
    "hookimpl",
    "hookspec",
    "json_default",
    "load_manifest",
    "load_redirects",
    "load_service",
    "load_workflow",
    "missing_scopes",
    "run_workflow",
    "run_workflow_sync",
    "stream_items",
]

#: Names whose modules import httpx, yaml, jsonschema or pluggy: loaded on first use, so
#: importing the package (and `connector-sdk --version`) stays cheap.
_LAZY = {
    "load_manifest": "._manifest.loader",
    "load_service": "._manifest.loader",
    "Authentication": "._manifest.model",
    "OperationSpec": "._manifest.model",
    "ParameterSpec": "._manifest.model",
    "Service": "._manifest.model",
    "OrganisationRedirect": "._manifest.redirects",
    "Redirects": "._manifest.redirects",
    "load_redirects": "._manifest.redirects",
    "hookimpl": "._plugins.hookspecs",
    "hookspec": "._plugins.hookspecs",
    "EmulatorRegistrar": "._plugins.registry",
    "HandlerRegistrar": "._plugins.registry",
    "RegisteredEmulator": "._plugins.registry",
    "SecretResolverRegistrar": "._plugins.registry",
    "ServiceRegistrar": "._plugins.registry",
    "ServiceRegistry": "._plugins.registry",
    "AuthenticationRecord": "._stores.sqlite",
    "AuthenticationStore": "._stores.sqlite",
    "HttpSettings": "._http.settings",
    "Token": "._auth.token",
    "TokenCache": "._auth.cache",
    "OperationContext": "._operations.calls",
    "PageLimits": "._operations.calls",
    "RateLimitPolicy": "._operations.ratelimit",
    "RevocationResult": "._auth.revocation",
    "CallResult": "._workflows.results",
    "JsonLinesSink": "._workflows.results",
    "RunEvent": "._workflows.results",
    "RunResult": "._workflows.results",
    "Runtime": "._runtime.runtime",
    "AuthorizationRequest": "._runtime.authorization",
    "Emulator": ".sandbox",
    "Workflow": "._workflows.model",
    "load_workflow": "._workflows.loading",
    "run_workflow": "._workflows.executors.local",
    "run_workflow_sync": "._workflows.executors.local",
    "call_operation": "._operations.calls",
    "call_operation_sync": "._operations.calls",
    "stream_items": "._operations.calls",
    "missing_scopes": "._operations.scopes",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'connector_sdk' has no attribute {name!r}")

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
    AuthenticationNotFound,
    ConnectorSDKError,
    ManifestError,
    NetworkPolicyError,
    OperationError,
    ParameterError,
    PluginError,
    RateLimitError,
    SecretKeyError,
    ServiceNotFound,
    StoreError,
    TokenEndpointError,
    TokenError,
    TokenResponseError,
    TokenTransportError,
    UnauthorizedError,
    WorkflowError,
)
from ._hookspecs import hookimpl, hookspec
from ._manifest import load_manifest, load_service
from ._model import Authentication, OperationSpec, Service
from ._problems import Problem
from ._registry import HandlerRegistrar, ServiceRegistrar
from ._secrets import Secret, json_default
from ._version import __version__

if TYPE_CHECKING:
    from ._http import HttpSettings
    from ._operations import (
        OperationContext,
        PageLimits,
        call_operation,
        call_operation_sync,
        stream_items,
    )
    from ._ratelimit import RateLimitPolicy
    from ._runner import RunResult, run_workflow, run_workflow_sync
    from ._runtime import Runtime
    from ._store import AuthenticationRecord, AuthenticationStore
    from ._token_cache import Token, TokenCache
    from ._workflow import Workflow, load_workflow

__all__ = [
    "APIError",
    "Authentication",
    "AuthenticationConflict",
    "AuthenticationExists",
    "AuthenticationNotFound",
    "AuthenticationRecord",
    "AuthenticationStore",
    "ConnectorSDKError",
    "HandlerRegistrar",
    "HttpSettings",
    "ManifestError",
    "NetworkPolicyError",
    "OperationContext",
    "OperationError",
    "OperationSpec",
    "PageLimits",
    "ParameterError",
    "PluginError",
    "Problem",
    "RateLimitError",
    "RateLimitPolicy",
    "RunResult",
    "Runtime",
    "RuntimeConfig",
    "Secret",
    "SecretKeyError",
    "Service",
    "ServiceNotFound",
    "ServiceRegistrar",
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
    "load_service",
    "load_workflow",
    "run_workflow",
    "run_workflow_sync",
    "stream_items",
]

#: Names whose modules import httpx: loaded on first use, so importing the package stays cheap.
_LAZY = {
    "AuthenticationRecord": "._store",
    "AuthenticationStore": "._store",
    "HttpSettings": "._http",
    "Token": "._token_cache",
    "TokenCache": "._token_cache",
    "OperationContext": "._operations",
    "PageLimits": "._operations",
    "RateLimitPolicy": "._ratelimit",
    "RunResult": "._runner",
    "Runtime": "._runtime",
    "Workflow": "._workflow",
    "load_workflow": "._workflow",
    "run_workflow": "._runner",
    "run_workflow_sync": "._runner",
    "call_operation": "._operations",
    "call_operation_sync": "._operations",
    "stream_items": "._operations",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'connector_sdk' has no attribute {name!r}")

"""The hooks a connector plugin can implement. This module is the plugin API's documentation.

A plugin is any module or object with functions marked ``@connector_sdk.hookimpl`` whose names
are those below; installed packages expose one through the entry-point group
``connector_sdk``. The SDK's own defaults (the SQLite store, the in-memory token cache) are
plugins too, registered through these same hooks, so a third party replaces them the same way.

Registration hooks receive a *registrar* callback instead of returning values, so the host
controls naming, duplicates and which plugin registered what (a failure is reported with the
plugin's name while the other plugins still load). ``docs/plugin-hooks.md`` documents every
hook with its exact signature; a test keeps the two in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .._auth.cache import TokenCache
    from .._config import RuntimeConfig
    from .._stores.sqlite import AuthenticationStore
    from .registry import (
        EmulatorRegistrar,
        HandlerRegistrar,
        SecretResolverRegistrar,
        ServiceRegistrar,
    )

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "connector_sdk"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_services(register: ServiceRegistrar) -> None:
    """Register the plugin's service manifests.

    Called once per plugin when a runtime (or the CLI) loads plugins. Call
    ``register(manifest)`` for each manifest, where ``manifest`` is a ``pathlib.Path``, an
    ``importlib.resources`` traversable (``files(__package__) / "acme.yaml"``) or YAML text.
    An invalid manifest or a service id another plugin registered already is reported as a
    load failure of this plugin; the other plugins still load. The return value is ignored.
    """


@hookspec
def register_operation_handlers(register: HandlerRegistrar) -> None:
    """Register Python handlers for operations whose manifest says ``handler: NAME``.

    Called once per plugin after ``register_services``. Call ``register("service.handler",
    function)`` where ``function(context, input)`` is sync or async, receives the validated
    input and an ``OperationContext`` (with an authenticated async client) and returns the
    operation's JSON-ready output. The return value is ignored.
    """


@hookspec
def register_emulators(register: EmulatorRegistrar) -> None:
    """Register emulators of the plugin's services, for ``--sandbox`` and ``connector-sdk
    sandbox``.

    Called once per plugin after ``register_operation_handlers``. Call ``register(service_id,
    factory)`` where ``factory(**options)`` returns a new emulator: a
    ``connector_sdk.sandbox.SandboxBase`` subclass (or any ``connector_sdk.sandbox.Emulator``)
    answering for the service's real hosts and accepting the credentials its
    ``parameters()`` returns. The factory runs only when an emulator is needed
    (``Runtime(sandbox=True)`` makes one per registered service; ``connector-sdk sandbox ID``
    one per id given), so import the emulator's code inside it and plugin loading stays
    cheap. ``options`` are the emulator's own keyword knobs (seed, rate limits, clock). An
    emulator registered twice for one service id, or a factory that is not callable, is a
    load failure of this plugin; the other plugins still load. The return value is ignored.
    """


@hookspec
def register_secret_resolvers(register: SecretResolverRegistrar) -> None:
    """Register resolvers of secret references: parameter values kept in a secret manager.

    Called once per plugin after ``register_emulators``. Call ``register(scheme, resolver)``
    where ``resolver(where)`` returns the secret's text for the reference ``scheme:where``
    (a caller stores ``{"$secret": "vault:kv/acme#client_secret"}``, or ``--param
    NAME=@ref:vault:kv/acme#client_secret`` on the CLI) and raises ``LookupError`` with a
    message that names what is missing, never a value. It is called, in the thread that
    builds a token request, each time one is built (so keep a client of the manager's
    API, not a cache of its values: a rotated secret must be picked up); an async token
    request calls it too, so it must be quick or do its own caching with a short TTL. The
    built-in plugin registers ``env``, ``file`` and ``keyring``. A scheme registered twice,
    or one that is not lower-case letters, digits, ``+``, ``.`` and ``-``, is a load failure
    of this plugin; the other plugins still load. The return value is ignored.
    """


@hookspec(firstresult=True)
def authentication_store(config: RuntimeConfig) -> AuthenticationStore | None:
    """Return the ``AuthenticationStore`` the runtime should use, or None to pass.

    Called once when a runtime opens its store. The first non-None result wins; plugins run
    before the built-in SQLite store, which answers last. ``config`` holds the SDK home
    directory and the environment the runtime was created with.
    """


@hookspec(firstresult=True)
def token_cache(config: RuntimeConfig) -> TokenCache | None:
    """Return the ``TokenCache`` the runtime should use, or None to pass.

    Called once per runtime. The first non-None result wins; the built-in in-memory cache
    answers last. A shared cache (Redis...) plugs in here. It implements the ``TokenCache``
    protocol: ``get``/``set``/``delete`` and the async ``aget``/``aset``/``adelete``, never
    called under a lock; optionally the lease (``acquire_lease``/``release_lease`` and their
    async twins) for single flight across processes. A cache with only the three sync methods
    is still accepted: its methods then serve event loops too, so they must be quick. Keys
    are SHA-256 digests, never secrets; values carry the clear token and must never be logged
    or stored unencrypted outside the process.
    """

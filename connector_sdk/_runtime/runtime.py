"""The runtime a workflow engine embeds: plugins, store, token cache and clients in one object.

One ``Runtime`` holds one token cache and one token manager, so every client it hands out
shares tokens and single flight (never a module global: two runtimes in one process are
independent). Plugins load when the runtime is created; the store opens on first use, so a
runtime that only calls APIs with ephemeral authentications never touches the disk.

    runtime = Runtime()
    runtime.create_authentication("acme", "my-app", {"client_id": "...",
                                                     "client_secret": "..."})
    with runtime.client("my-app") as client:
        client.get("/items", params={"limit": 10})
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._auth.cache import MemoryTokenCache, TokenCache
from .._auth.token import Token
from .._config import RuntimeConfig, env_flag
from .._errors import AuthenticationMismatch, EmulatorNotFound, PluginError
from .._http.settings import HttpSettings
from .._manifest.model import Authentication, Service
from .._manifest.redirects import Redirects, configured_redirects
from .._plugins.manager import PluginSet, first_result, load_plugins
from .._plugins.registry import ServiceRegistry
from .._stores.home import sdk_home
from .._stores.sqlite import AuthenticationRecord, AuthenticationStore, validate_name
from .._telemetry import get_logger
from . import authentications

if TYPE_CHECKING:
    # httpx, the token manager and the clients load on first use (a runtime that only
    # lists authentications never imports httpx nor builds an SSL context: issue 11.3)
    from .._auth.manager import TokenManager
    from .._auth.revocation import RevocationResult
    from .._http.seam import httpx
    from ..sandbox import Emulator
    from .authorization import AuthorizationRequest
    from .emulators import Emulators

__all__ = ["Runtime"]

log = get_logger("connector_sdk.runtime")


class Runtime:
    """Services from plugins, authentications from the store, authenticated HTTP clients.

    ``environ`` defaults to a snapshot of ``os.environ``; ``home`` to ``$CONNECTOR_SDK_HOME``
    or ``~/.connector-sdk``. ``allow_loopback`` (or ``CONNECTOR_SDK_ALLOW_LOOPBACK=1``)
    permits plain http to loopback hosts, for tests and local sandboxes. ``http`` sets
    timeouts and transports (a sandbox routes the real hosts through a transport; manifests
    are never edited). ``store`` and ``token_cache`` override the hooks' choices; as URLs
    (``"postgresql://…"``, ``"redis://…"``) they do what ``CONNECTOR_SDK_STORE`` and
    ``CONNECTOR_SDK_TOKEN_CACHE`` do (docs/deployment.md).

    ``sandbox=True`` routes every request to in-process emulators, one per service whose
    plugin registers one through the ``register_emulators`` hook (``self.sandboxes``,
    ``self.emulator(service_id)``), and makes ``resolve_authentication`` hand out throwaway
    authentications with the emulators' credentials: nothing is stored, nothing leaves the
    process. This is what ``--sandbox`` on the CLI does.

    ``sandbox_url`` (or ``CONNECTOR_SDK_SANDBOX_URL``) routes every request, keeping its real
    URL and ``Host`` header, to a loopback server such as ``connector-sdk sandbox SERVICE``;
    authentications are then the stored ones, created with the sandbox's printed credentials.

    ``revoke_on_close`` (default: when the token cache is the built-in in-memory one, whose
    tokens die with the runtime anyway) revokes, on ``close()``, the tokens this runtime holds
    for services that declare revocation, so that a long-lived app token does not stay valid
    for weeks after the process that used it ended.

    ``redirects`` (a path, a mapping or a ``Redirects``; else the file
    ``CONNECTOR_SDK_REDIRECTS`` names) is the redirect-URL configuration, ``self.redirects``
    (None when there is none); an invalid one fails here, at start-up.
    """

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        home: Path | str | None = None,
        allow_loopback: bool | None = None,
        http: HttpSettings | None = None,
        extra_plugins: Mapping[str, object] | None = None,
        store: AuthenticationStore | str | None = None,
        token_cache: TokenCache | str | None = None,
        token_manager_options: Mapping[str, Any] | None = None,
        sandbox: bool = False,
        sandbox_url: str | None = None,
        revoke_on_close: bool | None = None,
        redirects: Redirects | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    ) -> None:
        env = dict(os.environ if environ is None else environ)
        #: The redirect configuration (docs/redirects.md), checked before anything else
        #: starts: a bad file is a ``RedirectsError`` naming file:line and the fix.
        self.redirects: Redirects | None = configured_redirects(redirects, env)
        if isinstance(store, str):  # a URL: the built-in hook opens it
            env["CONNECTOR_SDK_STORE"], store = store, None
        if isinstance(token_cache, str):
            env["CONNECTOR_SDK_TOKEN_CACHE"], token_cache = token_cache, None
        if home is not None:
            env["CONNECTOR_SDK_HOME"] = str(home)
        loopback = env_flag(env, "CONNECTOR_SDK_ALLOW_LOOPBACK") if allow_loopback is None \
            else allow_loopback
        self.config = RuntimeConfig(home=sdk_home(env), environ=env, allow_loopback=loopback)
        self.plugins: PluginSet = load_plugins(env, extra_plugins=extra_plugins,
                                               cached_verdicts=True)
        for failure in self.plugins.failures:
            log.warning("plugin %s failed to load: %s", failure.plugin, failure.message)
        settings = http or HttpSettings()
        self.sandboxes: list[Any] = []
        self._emulators: Emulators | None = None
        self._throwaway: dict[tuple[str, str], Authentication] = {}
        if sandbox:
            from .emulators import Emulators

            self._emulators = Emulators(self.plugins.registry)
            self.sandboxes = list(self._emulators.by_service.values())
            transport = self._emulators.transport
            settings = replace(settings, transport=transport, async_transport=transport)
        elif sandbox_url or env.get("CONNECTOR_SDK_SANDBOX_URL"):
            from ..sandbox import routing_transports

            sync_route, async_route = routing_transports(
                sandbox_url or env["CONNECTOR_SDK_SANDBOX_URL"])
            settings = replace(settings, transport=sync_route, async_transport=async_route)
        self.sandbox = sandbox
        if settings.allow_loopback != loopback:
            settings = replace(settings, allow_loopback=loopback or settings.allow_loopback)
        self.http = settings
        self._store = store
        # "is None", not "or": an empty MemoryTokenCache has len() 0 and is falsy
        cache = token_cache if token_cache is not None else first_result(
            self.plugins.manager, "token_cache", config=self.config)
        self.revoke_on_close = isinstance(cache, MemoryTokenCache) if revoke_on_close is None \
            else revoke_on_close
        self._token_cache = cache
        self._tokens: TokenManager | None = None
        # Guards what is made on first use (token manager, store): threads that meet a new
        # runtime at once must share one, or each would fetch its own token.
        self._first_use = threading.RLock()
        self._token_manager_options = dict(token_manager_options or {})
        # A cache the hooks made (a Redis client, say) is the runtime's to close; one the
        # caller passed in stays the caller's.
        self._owned_cache = cache if token_cache is None else None
        #: The shared rate-limit buckets, one per (service, authentication, declared
        #: bucket), made on first use by ``_operations.ratelimit.bucket_for``; a fleet-wide
        #: ``RateLimitBucket`` may be placed here under the same key.
        self.rate_limiters: dict[tuple[str, str, str], Any] = {}

    if TYPE_CHECKING:
        #: The token manager (one cache, one single flight): an attribute made on first use
        #: (``__getattr__``), since building it imports httpx and builds the SSL context,
        #: which commands that send nothing skip.
        tokens: TokenManager

    def __getattr__(self, name: str) -> Any:
        if name == "tokens":
            self.tokens = self._token_manager()
            return self.tokens
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _token_manager(self) -> TokenManager:
        tokens = self._tokens
        if tokens is None:
            with self._first_use:
                tokens = self._tokens
                if tokens is None:
                    from .._auth.manager import TokenManager

                    tokens = TokenManager(cache=self._token_cache, settings=self.http,
                                          **self._token_manager_options)
                    tokens.bind_store(lambda: self.store)  # authorization-code tokens
                    self._tokens = tokens
        return tokens

    # -- services ---------------------------------------------------------------------------

    @property
    def services(self) -> ServiceRegistry:
        return self.plugins.registry

    def service(self, service_id: str) -> Service:
        return self.services.get(service_id)

    # -- authentications --------------------------------------------------------------------

    @property
    def store(self) -> AuthenticationStore:
        """The authentication store, opened on first use through the ``authentication_store``
        hook (the built-in SQLite store answers last)."""
        store = self._store
        if store is None:
            with self._first_use:
                store = self._store
                if store is None:
                    store = first_result(self.plugins.manager, "authentication_store",
                                         config=self.config)
                    if store is None:
                        raise PluginError("no plugin provides an authentication store (is the"
                                          " built-in plugin blocked by"
                                          " CONNECTOR_SDK_LOAD_PLUGINS?)")
                    self._store = store
        return store

    def authentication(
        self, service_id: str, parameters: Mapping[str, Any], *, name: str = "ephemeral"
    ) -> Authentication:
        """An authentication that is not stored: for one-off calls, tests and sandboxes."""
        return authentications.ephemeral(self, service_id, parameters, name=name)

    def create_authentication(
        self, service_id: str, name: str, parameters: Mapping[str, Any]
    ) -> Authentication:
        """Check ``parameters`` against the service's schema and store them under ``name``.

        Raises ``ParameterError`` listing every invalid field (no value quoted),
        ``AuthenticationExists`` if the name is taken, ``ServiceNotFound``.
        """
        validate_name(name)
        authentication = self.authentication(service_id, parameters, name=name)
        record = self.store.create(name, service_id, authentication.parameters)
        return authentications.from_record(self, record)

    def get_authentication(self, name: str) -> Authentication:
        """The stored authentication ``name``, its parameters re-checked against the
        service's current manifest (defaults added since creation apply)."""
        return authentications.from_record(self, self.store.get(name))

    def list_authentications(self) -> list[AuthenticationRecord]:
        """Every stored authentication record (secret values stay masked ``Secret``s)."""
        return self.store.list()

    def delete_authentication(self, name: str) -> RevocationResult | None:
        """Revoke the cached token where the manifest declares revocation, then delete.

        Deletion happens even when revocation fails; the result says how revocation went
        (None when there was nothing to revoke or the service is not installed).
        """
        return authentications.delete(self, name)

    def resolve_authentication(self, name: str, service_id: str) -> Authentication:
        """The authentication ``name`` for a call to ``service_id``; what steps use.

        In sandbox mode, a throwaway authentication with the emulator's credentials (one per
        name and service, so calls share its token). Otherwise the stored one, which must
        belong to ``service_id``.
        """
        if self.sandbox:
            key = (name, service_id)
            if key not in self._throwaway:
                self._throwaway[key] = self.authentication(
                    service_id, self.emulator(service_id).parameters(), name=name)
            return self._throwaway[key]
        authentication = self.get_authentication(name)
        if authentication.service.id != service_id:
            raise AuthenticationMismatch(
                f"authentication '{name}' is for service '{authentication.service.id}', not"
                f" '{service_id}': use an authentication of service '{service_id}' (see"
                " `connector-sdk auth list`)",
                name=name, service=authentication.service.id, expected=service_id)
        return authentication

    def emulator(self, service_id: str) -> Emulator:
        """The in-process emulator answering for ``service_id`` in sandbox mode (read its
        counters, expire its tokens). ``EmulatorNotFound`` when the runtime is not sandboxed
        or no plugin registers an emulator for the service."""
        if self._emulators is None:
            raise EmulatorNotFound(
                f"this runtime runs no emulators, so none answers for service '{service_id}':"
                " create it with Runtime(sandbox=True) (the CLI's --sandbox)",
                service=service_id)
        return self._emulators.get(service_id)

    def _resolve(self, authentication: str | Authentication) -> Authentication:
        if isinstance(authentication, Authentication):
            return authentication
        return self.get_authentication(authentication)

    # -- tokens and clients -----------------------------------------------------------------

    def get_token(self, authentication: str | Authentication) -> Token:
        """A valid token (from the cache or the token endpoint); never printed whole."""
        return self.tokens.get_token(self._resolve(authentication))

    async def aget_token(self, authentication: str | Authentication) -> Token:
        return await self.tokens.aget_token(self._resolve(authentication))

    def client(self, authentication: str | Authentication) -> httpx.Client:
        """A sync ``httpx.Client``: base URL rendered from the parameters, token attached,
        401 answered by one refresh and one retry, every URL checked by the network policy.
        Close it (``with runtime.client(...) as client:``)."""
        from .._auth.client import build_client

        return build_client(self._resolve(authentication), self.tokens, self.http)

    def async_client(self, authentication: str | Authentication) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` twin of ``client``."""
        from .._auth.client import build_async_client

        return build_async_client(self._resolve(authentication), self.tokens, self.http)

    # -- authorization-code flow (``authorization``) -------------------------------------

    def begin_authorization(
        self, service_id: str, name: str, parameters: Mapping[str, Any], *,
        organisation: str | None = None, scopes: Sequence[str] | None = None,
        redirect_url: str | None = None,
    ) -> AuthorizationRequest:
        """The provider's authorization URL and an opaque, single-use, expiring state for
        a user's consent to ``service_id`` as authentication ``name`` (docs/authentications.md).
        The redirect URL is ``redirect_url``, else ``self.redirects``' for ``organisation``."""
        from .authorization import begin

        return begin(self, service_id, name, parameters, organisation=organisation,
                     scopes=scopes, redirect_url=redirect_url)

    async def abegin_authorization(
        self, service_id: str, name: str, parameters: Mapping[str, Any], *,
        organisation: str | None = None, scopes: Sequence[str] | None = None,
        redirect_url: str | None = None,
    ) -> AuthorizationRequest:
        """``begin_authorization`` in a worker thread (the store is synchronous)."""
        import asyncio

        return await asyncio.to_thread(
            self.begin_authorization, service_id, name, parameters,
            organisation=organisation, scopes=scopes, redirect_url=redirect_url)

    def complete_authorization(self, callback_url: str, *,
                               organisation: str | None = None) -> AuthenticationRecord:
        """Check the provider's callback (state, signature, parameters), exchange its code
        and store the authentication with its tokens sealed; ``AuthorizationError`` (with a
        ``reason``) when refused."""
        from .authorization import complete

        return complete(self, callback_url, organisation=organisation)

    async def acomplete_authorization(self, callback_url: str, *,
                                      organisation: str | None = None) -> AuthenticationRecord:
        """``complete_authorization`` in a worker thread."""
        import asyncio

        return await asyncio.to_thread(self.complete_authorization, callback_url,
                                       organisation=organisation)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Revoke held tokens (see ``revoke_on_close``), then close the clients, the token
        cache the hooks made (not one passed in) and the store."""
        if self._tokens is not None:  # no token manager: no token held, nothing to close
            if self.revoke_on_close:
                from .._auth.revocation import revoke

                for authentication in self._tokens.held():
                    # a user's (authorization-code) token is stored and shared: kept
                    if authentication.service.auth.revocation is not None \
                            and authentication.grant != "authorization_code":
                        revoke(authentication, self._tokens, self.http)  # never raises
            self._tokens.close()
        close_cache = getattr(self._owned_cache, "close", None)
        if callable(close_cache):
            close_cache()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


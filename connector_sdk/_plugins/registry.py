"""The services, operation handlers and emulators that plugins registered, with who
registered them.

Plugins never touch these classes: they receive a registrar callback bound to their own name,
so every service knows its plugin and distribution, a duplicate is rejected naming both
plugins, and one plugin's bad manifest does not stop the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .._errors import EmulatorNotFound, OperationError, ServiceNotFound
from .._manifest.loader import load_manifest
from .._manifest.model import OperationSpec, Service
from .._problems import Problem
from .verdicts import ManifestVerdicts

__all__ = [
    "EmulatorRegistrar",
    "HandlerRegistrar",
    "PluginFailure",
    "RegisteredEmulator",
    "SecretResolverRegistrar",
    "ServiceRegistrar",
    "ServiceRegistry",
]


class ServiceRegistrar(Protocol):
    """``register(manifest)``: what ``register_services`` receives."""

    def __call__(self, manifest: Any) -> None: ...


class HandlerRegistrar(Protocol):
    """``register("service.handler", function)``: what ``register_operation_handlers`` receives."""

    def __call__(self, name: str, function: Callable[..., Any]) -> None: ...


#: ``factory(**options)`` returns a new ``connector_sdk.sandbox.Emulator``. Typed loosely here
#: because this module is on the validate path, which never imports the HTTP layer (and with
#: it the sandbox framework); ``connector_sdk.sandbox.EmulatorFactory`` is the precise type.
EmulatorFactory = Callable[..., Any]


class SecretResolverRegistrar(Protocol):
    """``register(scheme, resolver)``: what ``register_secret_resolvers`` receives;
    ``resolver(where)`` returns the secret's text for a reference ``scheme:where``."""

    def __call__(self, scheme: str, resolver: Callable[[str], str]) -> None: ...


class EmulatorRegistrar(Protocol):
    """``register(service_id, factory)``: what ``register_emulators`` receives."""

    def __call__(self, service_id: str, factory: EmulatorFactory) -> None: ...


@dataclass(frozen=True)
class RegisteredEmulator:
    """An emulator factory with the service it stands in for and the plugin that registered
    it; ``create(**options)`` makes a new emulator."""

    service: str
    factory: EmulatorFactory
    plugin: str
    distribution: str | None

    def create(self, **options: Any) -> Any:
        return self.factory(**options)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to load or registered something invalid."""

    plugin: str
    distribution: str | None
    message: str
    problems: tuple[Problem, ...] = ()


@dataclass
class ServiceRegistry:
    """Services by id, handlers by ``service.handler`` and emulators by service id, plus what
    went wrong loading them."""

    services: dict[str, Service] = field(default_factory=dict)
    handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    emulators: dict[str, RegisteredEmulator] = field(default_factory=dict)
    #: scheme -> resolver; ``secret_resolver_plugins`` says which plugin registered each
    secret_resolvers: dict[str, Callable[[str], str]] = field(default_factory=dict)
    secret_resolver_plugins: dict[str, str] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    #: Verdicts of manifests that passed before (``verdicts``); None checks every one.
    verdicts: ManifestVerdicts | None = None

    def __iter__(self) -> Iterator[Service]:
        return iter(sorted(self.services.values(), key=lambda s: s.id))

    def get(self, service_id: str) -> Service:
        try:
            return self.services[service_id]
        except KeyError:
            from .._hints import did_you_mean

            known = ", ".join(sorted(self.services))
            raise ServiceNotFound(
                f"no service '{service_id}'{did_you_mean(service_id, self.services)}"
                f" ({f'installed: {known}' if known else 'no service is installed'}); install"
                " its connector package or check `connector-sdk services`",
                service=service_id,
            ) from None

    def emulator(self, service_id: str) -> RegisteredEmulator:
        """The emulator registered for ``service_id``; ``EmulatorNotFound`` saying how to get
        one (or how to work without) otherwise."""
        try:
            return self.emulators[service_id]
        except KeyError:
            pass
        from .._hints import did_you_mean

        have = ", ".join(sorted(self.emulators)) or "none"
        service = self.services.get(service_id)
        if service is not None:
            raise EmulatorNotFound(
                f"service '{service_id}' has no emulator: its plugin '{service.plugin}' does"
                " not register one through the register_emulators hook (emulators installed:"
                f" {have}). Run without --sandbox using a stored authentication (`connector-sdk"
                f" auth create {service_id} NAME`), or add an emulator to the plugin"
                " (docs/plugin-hooks.md, connector_sdk.sandbox)", service=service_id)
        raise EmulatorNotFound(
            f"no emulator for service '{service_id}'{did_you_mean(service_id, self.emulators)}"
            f" (emulators installed: {have}); install the service's connector package, or"
            " check `connector-sdk services`", service=service_id)

    def operation(self, qualified: str) -> tuple[Service, OperationSpec]:
        """``acme.list_items`` -> (service, operation); clear errors for either part."""
        service_id, _, op_id = qualified.partition(".")
        if not op_id:
            raise OperationError(
                f"'{qualified}' is not an operation name: write SERVICE.OPERATION, e.g."
                " acme.list_items (see `connector-sdk operations`)", operation=qualified)
        service = self.get(service_id)
        if op_id not in service.operations:
            from .._hints import did_you_mean

            hint = did_you_mean(qualified, [f"{service_id}.{o}" for o in service.operations])
            raise OperationError(
                f"service '{service_id}' has no operation '{op_id}'{hint} (see"
                f" `connector-sdk operations {service_id}`)", operation=qualified)
        return service, service.operations[op_id]

    def registrar_for(self, plugin: str, distribution: str | None) -> ServiceRegistrar:
        def register(manifest: Any) -> None:
            self._register_manifest(plugin, distribution, manifest)

        return register

    def handler_registrar_for(self, plugin: str, distribution: str | None) -> HandlerRegistrar:
        def register(name: str, function: Callable[..., Any]) -> None:
            if not callable(function) or "." not in name:
                self.failures.append(PluginFailure(
                    plugin, distribution,
                    f"register('{name}', ...) needs a 'service.handler' name and a function"))
                return
            if name in self.handlers:
                self.failures.append(PluginFailure(
                    plugin, distribution, f"handler '{name}' is registered twice"))
                return
            self.handlers[name] = function

        return register

    def emulator_registrar_for(
        self, plugin: str, distribution: str | None
    ) -> EmulatorRegistrar:
        def register(service_id: str, factory: EmulatorFactory) -> None:
            if not isinstance(service_id, str) or not service_id or not callable(factory):
                self.failures.append(PluginFailure(
                    plugin, distribution,
                    f"register({service_id!r}, ...) needs a service id and a function (or"
                    " class) that returns a new emulator"))
                return
            existing = self.emulators.get(service_id)
            if existing is not None:
                self.failures.append(PluginFailure(
                    plugin, distribution,
                    f"an emulator for service '{service_id}' is already registered by plugin"
                    f" '{existing.plugin}'; uninstall one of them or block one with"
                    " CONNECTOR_SDK_BLOCK_PLUGINS"))
                return
            self.emulators[service_id] = RegisteredEmulator(
                service_id, factory, plugin, distribution)

        return register

    def secret_resolver_registrar_for(
        self, plugin: str, distribution: str | None
    ) -> SecretResolverRegistrar:
        def register(scheme: str, resolver: Callable[[str], str]) -> None:
            import re

            if not isinstance(scheme, str) or not re.fullmatch(r"[a-z][a-z0-9+.-]{0,31}",
                                                               scheme) or not callable(resolver):
                self.failures.append(PluginFailure(
                    plugin, distribution,
                    f"register({scheme!r}, ...) needs a lower-case scheme (letters, digits,"
                    " '+', '.', '-') and a function resolver(where) -> str"))
                return
            existing = self.secret_resolver_plugins.get(scheme)
            if existing is not None:
                self.failures.append(PluginFailure(
                    plugin, distribution,
                    f"secret scheme '{scheme}' is already resolved by plugin '{existing}';"
                    " uninstall one of them or block one with CONNECTOR_SDK_BLOCK_PLUGINS"))
                return
            self.secret_resolvers[scheme] = resolver
            self.secret_resolver_plugins[scheme] = plugin

        return register

    def _register_manifest(self, plugin: str, distribution: str | None, manifest: Any) -> None:
        if isinstance(manifest, str | bytes) and not _looks_like_path(manifest):
            service, problems = self._load(manifest, f"<{plugin}>")
        else:
            path = Path(os.fspath(manifest)) if isinstance(manifest, str | os.PathLike) else None
            if path is not None:
                service, problems = self._load(path, str(path))
            else:  # an importlib.resources traversable that is not a plain file
                service, problems = self._load(manifest.read_bytes(), str(manifest))
        if service is None:
            self.failures.append(PluginFailure(
                plugin, distribution,
                f"registered an invalid manifest ({len(problems)} problems); run"
                " `connector-sdk validate` on it", tuple(problems)))
            return
        existing = self.services.get(service.id)
        if existing is not None:
            self.failures.append(PluginFailure(
                plugin, distribution,
                f"service '{service.id}' is already registered by plugin '{existing.plugin}';"
                " uninstall one of them or block one with CONNECTOR_SDK_BLOCK_PLUGINS"))
            return
        self.services[service.id] = replace(service, plugin=plugin, distribution=distribution)


    def _load(self, source: Path | str | bytes, file: str) -> tuple[Service | None, list[Problem]]:
        if self.verdicts is not None:
            return self.verdicts.load(source, file)
        if isinstance(source, Path):
            return load_manifest(source)
        return load_manifest(source, file=file)


def _looks_like_path(value: str | bytes) -> bool:
    return isinstance(value, str) and "\n" not in value and value.endswith((".yaml", ".yml"))

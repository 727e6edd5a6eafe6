"""The services and operation handlers that plugins registered, with who registered them.

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

from .._errors import OperationError, ServiceNotFound
from .._manifest.loader import load_manifest
from .._manifest.model import OperationSpec, Service
from .._problems import Problem

__all__ = [
    "HandlerRegistrar",
    "PluginFailure",
    "ServiceRegistrar",
    "ServiceRegistry",
]


class ServiceRegistrar(Protocol):
    """``register(manifest)``: what ``register_services`` receives."""

    def __call__(self, manifest: Any) -> None: ...


class HandlerRegistrar(Protocol):
    """``register("service.handler", function)``: what ``register_operation_handlers`` receives."""

    def __call__(self, name: str, function: Callable[..., Any]) -> None: ...


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to load or registered something invalid."""

    plugin: str
    distribution: str | None
    message: str
    problems: tuple[Problem, ...] = ()


@dataclass
class ServiceRegistry:
    """Services by id and handlers by ``service.handler``, plus what went wrong loading them."""

    services: dict[str, Service] = field(default_factory=dict)
    handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

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

    def operation(self, qualified: str) -> tuple[Service, OperationSpec]:
        """``twitch.get_users`` -> (service, operation); clear errors for either part."""
        service_id, _, op_id = qualified.partition(".")
        if not op_id:
            raise OperationError(
                f"'{qualified}' is not an operation name: write SERVICE.OPERATION, e.g."
                " twitch.get_users", operation=qualified)
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

    def _register_manifest(self, plugin: str, distribution: str | None, manifest: Any) -> None:
        if isinstance(manifest, str | bytes) and not _looks_like_path(manifest):
            service, problems = load_manifest(manifest, file=f"<{plugin}>")
        else:
            path = Path(os.fspath(manifest)) if isinstance(manifest, str | os.PathLike) else None
            if path is not None:
                service, problems = load_manifest(path)
            else:  # an importlib.resources traversable that is not a plain file
                service, problems = load_manifest(manifest.read_bytes(), file=str(manifest))
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


def _looks_like_path(value: str | bytes) -> bool:
    return isinstance(value, str) and "\n" not in value and value.endswith((".yaml", ".yml"))

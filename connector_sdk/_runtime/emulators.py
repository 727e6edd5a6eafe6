"""The in-process emulators of a sandboxed runtime (``Runtime(sandbox=True)``), by service id.

The runtime knows no provider: it makes one emulator per service whose plugin registered one
through the ``register_emulators`` hook, routes every request to them through one
``SandboxTransport``, and builds throwaway authentications from each emulator's
``parameters()``. One plugin's broken factory does not stop the others: its service alone
fails, with a ``PluginError`` naming the plugin when it is used.
"""

from __future__ import annotations

from .._errors import EmulatorNotFound, PluginError
from .._plugins.registry import ServiceRegistry
from .._telemetry import get_logger
from ..sandbox import Emulator, SandboxTransport

__all__ = ["Emulators"]

log = get_logger("connector_sdk.runtime")


class Emulators:
    """One new emulator per registered service, and the transport that answers from them."""

    def __init__(self, registry: ServiceRegistry) -> None:
        self._registry = registry
        self.by_service: dict[str, Emulator] = {}
        self._failures: dict[str, tuple[str, str]] = {}  # service -> (message, plugin)
        for service_id, registered in sorted(registry.emulators.items()):
            try:
                emulator = registered.create()
                if not all(callable(getattr(emulator, attr, None))
                           for attr in ("serves", "handle", "parameters")):
                    raise TypeError(f"the factory returned {type(emulator).__name__}, which"
                                    " lacks serves(), handle() or parameters()")
            except Exception as exc:  # a broken plugin must not stop the others
                message = (f"plugin '{registered.plugin}' failed to create the emulator of"
                           f" service '{service_id}': {type(exc).__name__}: {exc}; fix or block"
                           " it with CONNECTOR_SDK_BLOCK_PLUGINS")
                self._failures[service_id] = (message, registered.plugin)
                log.warning("%s", message)
                continue
            self.by_service[service_id] = emulator
        self.transport = SandboxTransport(*self.by_service.values())

    def get(self, service_id: str) -> Emulator:
        """The emulator of ``service_id``; ``EmulatorNotFound`` (how to fix it) when no plugin
        registers one, ``PluginError`` when its plugin's factory failed."""
        emulator = self.by_service.get(service_id)
        if emulator is not None:
            return emulator
        if service_id in self._failures:
            message, plugin = self._failures[service_id]
            raise PluginError(message, plugin=plugin)
        self._registry.emulator(service_id)  # raises EmulatorNotFound with the fix
        raise EmulatorNotFound(f"no emulator for service '{service_id}'", service=service_id)

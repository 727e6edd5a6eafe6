"""The emulators the installed connectors register, made one at a time for a test.

Connectors register emulators of their services through the ``register_emulators`` hook
(docs/plugin-hooks.md); ``make_emulator("twitch", clock=clock)`` finds the one for a service
id among the installed plugins and calls its factory with the options given, so a test gets
a fresh emulator with its own state (seed, clock, rate limits) and never imports the
connector's emulator module itself. ``EmulatorNotFound`` says how to fix a missing one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._plugins.registry import ServiceRegistry
    from ..sandbox import Emulator

__all__ = ["installed_services", "make_emulator"]


@functools.lru_cache(maxsize=4)
def _registry(environ: tuple[tuple[str, str], ...]) -> ServiceRegistry:
    from .._plugins.manager import load_plugins

    return load_plugins(dict(environ)).registry


def installed_services(environ: Mapping[str, str] | None = None) -> ServiceRegistry:
    """The services, handlers and emulators the installed plugins register (loaded once per
    distinct ``environ``; the empty environment by default)."""
    return _registry(tuple(sorted((environ or {}).items())))


def make_emulator(service_id: str, *, environ: Mapping[str, str] | None = None,
                  **options: Any) -> Emulator:
    """A new emulator of ``service_id`` from its plugin's factory, given ``options``."""
    emulator: Emulator = installed_services(environ).emulator(service_id).create(**options)
    return emulator

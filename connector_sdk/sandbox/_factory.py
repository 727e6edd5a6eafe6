"""Sandboxes by service id, for the CLI and for tests that pick a service by name."""

from __future__ import annotations

from typing import Any

from .._errors import ServiceNotFound
from ._base import SandboxBase
from ._shopify import ShopifySandbox
from ._twitch import TwitchSandbox

__all__ = ["SANDBOX_NAMES", "create_sandbox"]

_KINDS: dict[str, type[SandboxBase]] = {"shopify": ShopifySandbox, "twitch": TwitchSandbox}
SANDBOX_NAMES: tuple[str, ...] = tuple(sorted(_KINDS))


def create_sandbox(name: str, **options: Any) -> SandboxBase:
    """A new emulator for service ``name`` (``twitch`` or ``shopify``) with its keyword knobs."""
    try:
        kind = _KINDS[name]
    except KeyError:
        raise ServiceNotFound(
            f"no sandbox for service {name!r}; choose from: {', '.join(SANDBOX_NAMES)}",
            service=name,
        ) from None
    return kind(**options)

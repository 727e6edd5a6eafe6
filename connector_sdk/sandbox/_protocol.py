"""The interfaces the transports, the loopback server and the runtime dispatch to.

``Sandbox`` is what ``SandboxTransport`` and ``SandboxServer`` call; ``Emulator`` adds what
the runtime and ``connector-sdk sandbox`` need from an emulator a plugin registers. Kept apart
from ``SandboxBase`` (``_base``) so that the modules ``SandboxBase`` uses can name them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .._http.seam import httpx

__all__ = ["Emulator", "EmulatorFactory", "Sandbox"]


class Sandbox(Protocol):
    """The interface transports and the loopback server dispatch to."""

    name: str

    def serves(self, host: str) -> bool:
        """True when this emulator answers for ``host`` (lower-case, no port)."""
        ...

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request whose body has been read."""
        ...


class Emulator(Sandbox, Protocol):
    """An emulator a plugin registers for a service (``register_emulators``).

    ``hosts`` are the real hosts it stands in for (printed by ``connector-sdk sandbox``);
    ``parameters()`` returns authentication parameter values, named as in the service's
    manifest, that its token endpoint accepts: ``--sandbox`` builds its throwaway
    authentications from them. They are documented test values, never real secrets.
    """

    @property
    def hosts(self) -> tuple[str, ...]:
        """The real hosts this emulator stands in for."""
        ...

    def parameters(self) -> dict[str, str]:
        """Authentication parameter values this emulator accepts (a fresh dict)."""
        ...

    def approve(self, authorization_url: str, *, deny: bool = False) -> str:
        """Answer the consent page at ``authorization_url`` over HTTP (Approve, or Deny with
        ``deny=True``) and return the callback URL it redirects to."""
        ...


#: What ``register(service_id, factory)`` takes: ``factory(**options)`` makes a new emulator.
EmulatorFactory = Callable[..., Emulator]

"""An httpx transport that answers from emulators in-process: no socket, no network.

``SandboxTransport(*emulators)`` is both a sync and an async transport, so one object
can be given to ``httpx.Client(transport=...)`` and ``httpx.AsyncClient(transport=...)``. It
dispatches on the request URL's host to the first emulator that serves it. A host no emulator
serves raises ``httpx.ConnectError``, as an unreachable host would: a sandbox must never turn
a request meant for somewhere else into a silent success.
"""

from __future__ import annotations

from .._http.seam import httpx
from ._protocol import Sandbox

__all__ = ["SandboxTransport"]


class SandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Routes each request to the emulator serving its host; sync and async."""

    def __init__(self, *sandboxes: Sandbox) -> None:
        self.sandboxes: tuple[Sandbox, ...] = sandboxes

    def sandbox_for(self, host: str) -> Sandbox | None:
        """The emulator that serves ``host``, or None."""
        host = host.lower()
        return next((s for s in self.sandboxes if s.serves(host)), None)

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        sandbox = self.sandbox_for(request.url.host)
        if sandbox is None:
            served = ", ".join(s.name for s in self.sandboxes) or "none"
            raise httpx.ConnectError(
                f"no sandbox serves host {request.url.host!r} (sandboxes: {served}); "
                "the request was not sent anywhere",
                request=request,
            )
        return sandbox.handle(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self._dispatch(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self._dispatch(request)

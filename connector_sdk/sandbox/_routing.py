"""Route a client's requests for the real hosts to a sandbox, without editing any URL.

Sandboxing must not edit manifests. The runtime renders and policy-checks the real URL
(``https://auth.example.com/oauth2/token``); only the transport underneath decides where the
bytes go. ``LoopbackRoutingTransport`` sends every request to a loopback ``SandboxServer``
with the original host in the ``Host`` header, and hands back the response for the original
request, so redirects, ``Link`` headers and error messages all show the real URL.
``routing_transports`` builds the (sync, async) pair for the runtime from a server, its URL or
in-process emulators.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from types import TracebackType

from .._errors import NetworkPolicyError
from .._http.seam import httpx
from ._protocol import Sandbox
from ._server import SandboxServer, require_loopback
from ._transport import SandboxTransport

__all__ = ["LoopbackRoutingTransport", "routing_transports"]


class LoopbackRoutingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Sends every request to ``target`` (``http://127.0.0.1:PORT``), keeping its ``Host``.

    Usable as a sync and as an async transport; each side opens its own connection pool on
    first use, the async side one per event loop (loops in several threads may share a
    runtime, and a pool's connections belong to the loop that opened them). ``target``
    must be a loopback ``http`` URL (``NetworkPolicyError`` otherwise).
    """

    def __init__(self, target: str) -> None:
        url = httpx.URL(target)
        if url.scheme != "http" or not url.host:
            raise NetworkPolicyError(
                f"sandbox target must be an http://127.0.0.1:PORT URL, not {target!r}",
                url_name="sandbox",
            )
        require_loopback(url.host)
        self.target = url
        self._sync: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()
        self._async_pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncHTTPTransport] = weakref.WeakKeyDictionary()
        self._async_other: httpx.AsyncHTTPTransport | None = None  # not asyncio (trio)

    def _reroute(self, request: httpx.Request) -> httpx.Request:
        headers = request.headers.copy()
        headers["Host"] = request.url.netloc.decode("ascii")
        url = request.url.copy_with(
            scheme=self.target.scheme, host=self.target.host, port=self.target.port
        )
        return httpx.Request(request.method, url, headers=headers, stream=request.stream,
                             extensions=request.extensions)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._sync is None:
            self._sync = httpx.HTTPTransport()
        return self._sync.handle_request(self._reroute(request))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._async_pool().handle_async_request(self._reroute(request))

    def _async_pool(self) -> httpx.AsyncHTTPTransport:
        # A pool's connections belong to the event loop that opened them: each loop gets its
        # own pool (successive asyncio.run calls, or loops running at once in several
        # threads, which must not replace each other's pool while it is in use).
        loop = _running_loop()
        with self._lock:
            if loop is None:
                if self._async_other is None:
                    self._async_other = httpx.AsyncHTTPTransport()
                return self._async_other
            pool = self._async_pools.get(loop)
            if pool is None:
                pool = self._async_pools[loop] = httpx.AsyncHTTPTransport()
            return pool

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        loop = _running_loop()
        with self._lock:
            if loop is None:
                pool, self._async_other = self._async_other, None
            else:
                pool = self._async_pools.pop(loop, None)
        if pool is not None:
            await pool.aclose()

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (e.g. trio): one pool
        return None


def routing_transports(
    *targets: Sandbox | SandboxServer | str,
) -> tuple[httpx.BaseTransport, httpx.AsyncBaseTransport]:
    """The (sync, async) transports that send the real hosts' traffic to sandboxes.

    Pass a running ``SandboxServer`` or its URL to go over loopback, or emulator objects to
    answer in-process (one ``SandboxTransport`` serves both sides then).
    """
    if len(targets) == 1 and isinstance(targets[0], SandboxServer | str):
        target = targets[0]
        url = target.url if isinstance(target, SandboxServer) else target
        return LoopbackRoutingTransport(url), LoopbackRoutingTransport(url)
    if not targets or any(isinstance(t, SandboxServer | str) for t in targets):
        raise TypeError("routing_transports takes one server (or its URL), or emulators")
    transport = SandboxTransport(*targets)  # type: ignore[arg-type]
    return transport, transport

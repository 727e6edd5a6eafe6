"""The emulators on a real loopback socket: HTTP/1.1, keep-alive, one thread per connection.

``SandboxServer(*emulators)`` listens on 127.0.0.1 (an ephemeral port by default) and
dispatches each request on its ``Host`` header, so a client whose transport reroutes
``https://api.example.com/...`` to the server (``LoopbackRoutingTransport``) reaches the
emulator serving that host while its URL, and the network policy's view of it, stay the real
ones. Requests and
responses are converted to and from ``httpx`` objects so that the very same ``handle`` methods
answer here and in-process. Binding anything but a loopback address is refused: the
emulators accept documented credentials and must never be reachable from a network.

A browser cannot choose the ``Host`` header, so the server also answers
``/_sandbox/HOST/PATH`` as the emulator serving HOST would answer ``https://HOST/PATH``
(``browser_url`` builds such URLs), for pages loaded from a loopback origin only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .._errors import NetworkPolicyError
from .._http.seam import httpx
from .._sockets import LISTEN_BACKLOG
from .._telemetry import get_logger
from ._protocol import Emulator, Sandbox

__all__ = ["SandboxServer", "require_loopback", "serve_forever_cli"]

logger = get_logger(__name__)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date",
               "server"}
_MAX_BODY = 10 * 1024 * 1024
_BROWSER_PREFIX = "/_sandbox/"
_BROWSER_PATH = re.compile(r"/_sandbox/([A-Za-z0-9.-]+(?::[0-9]{1,5})?)([/?].*)?", re.DOTALL)


def _hostname(authority: str) -> str:
    """The lower-case host of a ``Host`` header value (no port), or "" if it has none."""
    try:
        return httpx.URL(f"https://{authority}/").host if authority else ""
    except httpx.InvalidURL:
        return ""


def _loopback_authority(authority: str) -> bool:
    host = _hostname(authority)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_loopback(host: str) -> None:
    """Raise ``NetworkPolicyError`` unless ``host`` is ``localhost`` or a loopback address."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NetworkPolicyError(
            f"the sandbox refuses to use {host!r}: it only binds and routes to loopback "
            "addresses (127.0.0.1, ::1, localhost); pick one of those",
            url_name="sandbox",
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # https://docs.python.org/3/library/socketserver.html#socketserver.BaseServer.request_queue_size
    request_queue_size = LISTEN_BACKLOG  # the default 5 drops concurrent connects (1 s SYN retry)

    def __init__(self, address: tuple[str, int], sandboxes: tuple[Sandbox, ...]) -> None:
        self.sandboxes = sandboxes
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # an idle keep-alive connection is closed after a minute

    def log_message(self, format: str, *args: Any) -> None:
        # The request line without its query: authorization URLs carry state, consent
        # posts a consent id, and a client may put a token in a query string.
        args = tuple(str(a).split("?", 1)[0] + ("?…" if "?" in str(a) else "")
                     if i == 0 and isinstance(a, str) else a for i, a in enumerate(args))
        logger.debug("sandbox %s - " + format, self.address_string(), *args)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large for the sandbox")
        return self.rfile.read(length) if length else b""

    def _answer(self) -> None:
        host = (self.headers.get("Host") or "").strip()
        path, prefix = self.path, ""
        browser = _BROWSER_PATH.fullmatch(self.path)
        if browser is not None:
            # /_sandbox/HOST/PATH: a browser reaching an emulator by its real host. Only for a
            # page the browser loaded from loopback: a DNS-rebound site (Host: evil.example)
            # must not use this to reach the emulators.
            if not _loopback_authority(host):
                self._send(httpx.Response(403, text="/_sandbox/ paths are served to loopback "
                                          "origins only (Host: 127.0.0.1:PORT)\n"))
                return
            prefix = f"{_BROWSER_PREFIX}{browser.group(1)}"
            host, path = browser.group(1).lower(), browser.group(2) or "/"
            if path.startswith("?"):
                path = "/" + path
        hostname = _hostname(host)
        sandbox = next((s for s in self.server.sandboxes if hostname and s.serves(hostname)), None)
        try:
            body = self._body()
        except ValueError:
            self._send(httpx.Response(413, text="request body too large"))
            self.close_connection = True
            return
        if sandbox is None:
            served = ", ".join(s.name for s in self.server.sandboxes)
            self._send(httpx.Response(
                421, text=f"no sandbox serves Host {host!r} (sandboxes here: {served}); send "
                "the real host of the API in the Host header, as a routing transport does, or "
                "open /_sandbox/HOST/PATH in a browser\n"))
            return
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in ("transfer-encoding", "host")]
        request = httpx.Request(self.command, f"https://{host}{path}",
                                headers=[("Host", host), *headers], content=body)
        try:
            response = sandbox.handle(request)
        except Exception:
            logger.exception("sandbox %s failed on %s %s", sandbox.name, self.command,
                             request.url.path)
            response = httpx.Response(500, text="the sandbox failed; see its log\n")
        if prefix and "location" in response.headers:
            response.headers["Location"] = self._browser_location(
                response.headers["location"], prefix)
        self._send(response)

    def _browser_location(self, location: str, prefix: str) -> str:
        """A redirect seen through /_sandbox/ stays there when it targets an emulator here."""
        if location.startswith("/") and not location.startswith("//"):
            return prefix + location
        url = httpx.URL(location)
        if url.scheme == "https" and any(s.serves(url.host) for s in self.server.sandboxes):
            origin = self.headers.get("Host", "")
            return f"http://{origin}{_BROWSER_PREFIX}{url.netloc.decode()}" \
                f"{url.raw_path.decode('ascii')}"
        return location

    def _send(self, response: httpx.Response) -> None:
        content = response.content if self.command != "HEAD" else b""
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer


class SandboxServer:
    """Serves ``sandboxes`` on ``http://host:port`` (port 0: an ephemeral one) until stopped.

    Use as a context manager, or call ``start()`` and ``stop()``. ``url`` is the address to
    route to (``http://127.0.0.1:PORT``); ``port`` the bound port once started.
    """

    def __init__(self, *sandboxes: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        require_loopback(host)
        self.sandboxes = sandboxes
        self.host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox server is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def browser_url(self, url: str) -> str:
        """Where a browser opens ``url`` (``https://HOST/PATH?Q``) of an emulator served here:
        ``http://127.0.0.1:PORT/_sandbox/HOST/PATH?Q``.

        A browser cannot be told to send ``Host: HOST`` to a loopback port, so the real host
        travels in the path; the server strips the prefix, answers as the emulator serving
        HOST, and keeps redirects to its emulators under the prefix. Relative links and form
        actions keep working. ``NetworkPolicyError`` for a URL no emulator here serves.
        """
        parsed = httpx.URL(url)
        host = parsed.host.lower()
        if parsed.scheme not in ("https", "http") or not host or not any(
                s.serves(host) for s in self.sandboxes):
            served = ", ".join(s.name for s in self.sandboxes)
            raise NetworkPolicyError(
                f"no emulator on this sandbox server serves {host or url!r} (emulators here: "
                f"{served}); pass an https:// URL of one of their hosts", url_name="sandbox")
        authority = host if parsed.port is None else f"{host}:{parsed.port}"
        return f"{self.url}{_BROWSER_PREFIX}{authority}{parsed.raw_path.decode('ascii')}"

    def start(self) -> SandboxServer:
        """Bind and serve in a daemon thread; returns self. Starting twice is a no-op."""
        if self._server is not None:
            return self
        kind = _Server6 if ":" in self.host else _Server
        self._server = kind((self.host, self._requested_port), self.sandboxes)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"sandbox-server-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and the socket. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever_cli(
    emulators: Sequence[Emulator],
    port: int,
    out: Callable[[str], Any] = print,
    *,
    host: str = "127.0.0.1",
    stop: threading.Event | None = None,
) -> None:
    """``connector-sdk sandbox NAME... --port N``: serve ``emulators`` until Ctrl-C (or until
    ``stop`` is set).

    Prints the address, the real hosts each emulator answers for, the throwaway
    credentials each accepts (``parameters()``: documented test values, not secrets) and how
    a browser reaches them (``SandboxServer.browser_url``: ``/_sandbox/HOST/PATH``). The
    command finds the emulators through the plugins' ``register_emulators`` hook.
    """
    stop = stop or threading.Event()
    with SandboxServer(*emulators, host=host, port=port) as server:
        out(f"sandbox listening on {server.url}")
        for emulator in emulators:
            out(f"  {emulator.name}: answers for {', '.join(emulator.hosts)} (by Host header)")
            for key, value in emulator.parameters().items():
                out(f"    {key} = {value}")
        out("Route the real hosts here, keeping the Host header: "
            f"connector_sdk.sandbox.routing_transports({server.url!r})")
        example = next((e.hosts[0] for e in emulators if e.hosts), "HOST")
        out(f"In a browser (consent pages), https://HOST/PATH is {server.url}/_sandbox/HOST/"
            f"PATH, e.g. {server.url}/_sandbox/{example}/ "
            "(connector_sdk.sandbox.SandboxServer.browser_url)")
        out("Press Ctrl-C to stop.")
        try:
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
    out("sandbox stopped")

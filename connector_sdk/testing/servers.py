"""A real HTTP/1.1 server on 127.0.0.1 whose answers a test scripts, one request at a time.

Every other server of the kit (the OAuth2 token server, the API server, replayed recordings)
is a set of routes on a ``LoopbackServer``, so one port can hold a service's token endpoint
and its API, as a local server that ``--local-server`` / ``CONNECTOR_SDK_SANDBOX_URL`` routes
to must.

What a test may rely on:

- It binds 127.0.0.1 on a free port (``url``, ``port``) and serves each connection on its own
  thread, keep-alive, so concurrent clients really overlap.
- Each request is recorded (``seen``, ``requests(path)``, ``count(path)``) *before* it is
  answered, so a count read after the client got its answer includes it. ``connections``
  counts accepted TCP connections: a test can prove nothing reached the server at all.
- A request's answer is, in order: the next one queued for its path by ``script``; else the
  first matching ``route`` (path template such as ``/things/{id}``, optional method and
  ``Host``); else 404 with a JSON body.
- An answer (a *responder*) is a callable that receives the ``Exchange`` and returns a
  ``Reply`` or answers itself (``exchange.reply/head/write/drop/reset``), which is how
  ``connector_sdk.testing.faults`` breaks connections. A ``Reply`` is such a callable.
- ``close()`` (the fixtures call it) ends hanging handlers and closes open connections.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._sockets import LISTEN_BACKLOG

__all__ = ["Exchange", "LoopbackServer", "Reply", "Responder", "Seen"]


@dataclass
class Reply:
    """One scripted answer: a JSON body (``json``) or raw ``body``, headers, an optional
    ``delay`` in seconds first, or ``drop`` to close the connection without answering."""

    status: int = 200
    json: Any = None
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    def __call__(self, exchange: Exchange) -> None:
        """A ``Reply`` is a responder too: it answers ``exchange`` with itself."""
        exchange.send(self)


@dataclass(frozen=True)
class Seen:
    """One request as the server read it: ``path`` is the request target with its query
    string, ``headers`` are lower-cased, ``body`` is the whole (de-chunked) body,
    ``received_at`` the ``time.monotonic()`` at which its headers had arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = 0.0

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> dict[str, str]:
        """The query string's parameters (the last value of a repeated one)."""
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))

    @property
    def host(self) -> str:
        """The ``Host`` header without its port (the real host when a request was routed)."""
        host = self.headers.get("host", "")
        if host.startswith("["):
            return host.split("]", 1)[0] + "]"
        return host.rsplit(":", 1)[0]

    def form(self) -> dict[str, str]:
        """The body read as ``application/x-www-form-urlencoded``."""
        return dict(parse_qsl(self.body.decode("latin-1"), keep_blank_values=True))

    def json(self) -> Any:
        """The body read as JSON (``ValueError`` when it is not)."""
        return json.loads(self.body)


class Exchange:
    """One request and what a responder may do with it.

    The request's fields are readable here too (``method``, ``path``, ``headers``, ``body``,
    ``route``, ``query``, ``form()``), so a responder written for a ``Seen`` works unchanged.
    ``params`` holds the values a route template captured (``/things/{id}``).
    """

    def __init__(self, handler: BaseHTTPRequestHandler, seen: Seen, closing: threading.Event,
                 params: Mapping[str, str] | None = None) -> None:
        self._handler = handler
        self._closing = closing
        self.seen = seen
        self.params: dict[str, str] = dict(params or {})
        self.answered = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.seen, name)

    def reply(self, status: int = 200, *, json_body: Any = None, body: bytes | str = b"",
              content_type: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        """Answer with a whole body (JSON when ``json_body`` is given) and its length."""
        if json_body is not None:
            payload = json.dumps(json_body).encode()
            content_type = content_type or "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else body
            content_type = content_type or "text/plain"
        self.head(status, {"Content-Type": content_type, **(headers or {}),
                           "Content-Length": str(len(payload))})
        self.write(payload)

    def head(self, status: int, headers: Mapping[str, str]) -> None:
        """Send the status line and headers only (a body may follow with ``write``)."""
        self.answered = True
        handler = self._handler
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.flush()

    def write(self, data: bytes) -> bool:
        """Send body bytes; False when the client has gone away."""
        try:
            self._handler.wfile.write(data)
            self._handler.wfile.flush()
        except OSError:
            return False
        return True

    def drop(self) -> None:
        """Close the connection without (another) word (FIN)."""
        self.answered = True
        self._handler.close_connection = True
        with contextlib.suppress(OSError):
            self._handler.connection.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        """Abort the connection with a TCP RST (``SO_LINGER`` 0)."""
        self.answered = True
        self._handler.close_connection = True
        conn = self._handler.connection
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the server closes; True if the server is closing."""
        return self._closing.wait(seconds)

    def send(self, reply: Reply) -> None:
        """Answer with a ``Reply``."""
        if reply.delay and self.sleep(reply.delay):
            self.drop()
            return
        if reply.drop:
            self.drop()
            return
        if reply.json is not None:
            self.reply(reply.status, json_body=reply.json, headers=reply.headers)
        else:
            self.reply(reply.status, body=reply.body, headers=reply.headers)


#: A callable answering an ``Exchange``: it returns a ``Reply`` to send, or answers itself
#: and returns None. A ``Reply`` is one (it sends itself).
Responder = Callable[[Exchange], "Reply | None"]


@dataclass
class _Route:
    pattern: re.Pattern[str]
    responder: Responder
    method: str | None
    host: str | None

    def match(self, seen: Seen) -> dict[str, str] | None:
        if self.method is not None and seen.method != self.method:
            return None
        if self.host is not None and seen.host != self.host:
            return None
        found = self.pattern.fullmatch(seen.route)
        return found.groupdict() if found else None


def path_pattern(template: str) -> re.Pattern[str]:
    """The regex of a route template: ``{name}`` matches one non-empty path segment,
    ``{name:path}`` any non-empty rest of the path, slashes included (Starlette's syntax)."""
    parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*(?::path)?)\}", template)
    regex = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        else:
            name, _, kind = part.partition(":")
            regex += f"(?P<{name}>.+)" if kind else f"(?P<{name}>[^/]+)"
    return re.compile(regex)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG  # the default 5 drops concurrent connects (1 s SYN retry)

    def __init__(self, owner: LoopbackServer, port: int) -> None:
        self.owner = owner
        self.open: set[socket.socket] = set()
        super().__init__(("127.0.0.1", port), _Handler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.owner.lock:
            self.owner.connections += 1
            self.open.add(request)
        return True

    def shutdown_request(self, request: Any) -> None:
        with self.owner.lock:
            self.open.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""  # a streaming request body (RFC 9112 §7.1)
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return body
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        owner = self.server.owner
        received_at = time.monotonic()
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    self._body(), received_at)
        responder, params = owner.responder_for(seen)
        exchange = Exchange(self, seen, owner.closing, params)
        try:
            reply = responder(exchange)
            if reply is not None:
                exchange.send(reply)
            elif not exchange.answered:
                exchange.reply(500, json_body={"error": "the responder did not answer"})
        except OSError:  # the client went away (timeouts): nothing left to answer
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with scripted answers (see the module doc).

    ``port`` 0 (the default) takes a free port. It serves from a background thread at once,
    unless ``start=False`` (then ``serve_forever()`` serves in the calling thread). Use it as
    a context manager or call ``close()``; the ``local_server`` fixture does.
    """

    def __init__(self, *, port: int = 0, start: bool = True) -> None:
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.seen: list[Seen] = []
        self.connections = 0
        self._queues: dict[str, deque[Responder]] = defaultdict(deque)
        self._routes: list[_Route] = []
        self._httpd = _HTTPServer(self, port)
        self.port: int = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._serving = False
        if start:
            self._serving = True
            threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                             daemon=True, name=f"loopback-server-{self.port}").start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``close()`` (for ``start=False``: a development
        server run as a process; see ``serve_in_background``)."""
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.05)
        finally:
            self._httpd.server_close()

    @property
    def base(self) -> str:
        """The same as ``url`` (``http://127.0.0.1:PORT``)."""
        return self.url

    # -- answers ----------------------------------------------------------------------------

    def script(self, path: str, *responders: Responder) -> None:
        """Queue answers for ``path`` (no query string), each used once, before any route."""
        with self.lock:
            self._queues[path].extend(responders)

    def route(self, path: str, responder: Responder, *, method: str | None = None,
              host: str | None = None) -> None:
        """Answer requests whose path matches the template ``path`` (``{name}`` matches one
        segment, ``{name:path}`` the rest of the path; both captured in ``exchange.params``),
        optionally only for ``method`` and the
        ``Host`` ``host``. A later route for the same path, method and host replaces the
        earlier one; otherwise routes are tried in the order they were added."""
        pattern = path_pattern(path)
        upper = method.upper() if method else None
        with self.lock:
            self._routes = [r for r in self._routes
                            if (r.pattern.pattern, r.method, r.host) != (pattern.pattern, upper,
                                                                         host)]
            self._routes.append(_Route(pattern, responder, upper, host))

    def default(self, path: str, responder: Responder) -> None:
        """Answer every request for ``path`` (any method) once its script is used up."""
        self.route(path, responder)

    def responder_for(self, seen: Seen) -> tuple[Responder, dict[str, str]]:
        """Record ``seen`` and pick its answer (script, then routes, then 404)."""
        with self.lock:
            self.seen.append(seen)
            queue = self._queues.get(seen.route)
            if queue:
                return queue.popleft(), {}
            for candidate in self._routes:
                params = candidate.match(seen)
                if params is not None:
                    return candidate.responder, params
        return Reply(404, json={"error": "not_found",
                                "message": f"no route for {seen.method} {seen.route}"}), {}

    # -- what was seen ----------------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[Seen]:
        """Requests received so far, for ``path`` (no query string) or all."""
        with self.lock:
            return [s for s in self.seen if path is None or s.route == path]

    def count(self, path: str | None = None) -> int:
        """How many requests reached ``path`` (or the server)."""
        return len(self.requests(path))

    def reset_counters(self) -> None:
        """Forget what was seen (routes and scripts stay)."""
        with self.lock:
            self.seen.clear()
            self.connections = 0

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving: hanging responders return, open connections are shut."""
        self.closing.set()
        if self._serving:
            self._httpd.shutdown()
        with self.lock:
            still_open = list(self._httpd.open)
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

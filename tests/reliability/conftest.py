"""Fixtures for the reliability suite: a loopback server that misbehaves on cue, services
built in code whose token endpoint and API live on it, runtimes wired to it, and
``figures`` to record what a test measured for ``scripts/reliability``.

The fault server is a real ``ThreadingHTTPServer`` on 127.0.0.1; each route is scripted with
*behaviours*, callables that get the raw exchange and may answer, answer in part and reset,
hang, trickle bytes or close without a word. Every accepted TCP connection is counted, so a
test can assert that nothing reached it at all.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector_sdk import Runtime
from connector_sdk._http.retry import RetryPolicy
from connector_sdk._http.settings import HttpSettings
from connector_sdk._manifest.model import (
    Authentication,
    ClientCredentialsAuth,
    ParameterSpec,
    RevocationSpec,
    Service,
)
from connector_sdk._manifest.templates import parse_template
from connector_sdk._secrets import Secret

MARKERS = (
    "reliability: part of the reliability evidence suite (scripts/reliability)",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


# -- the fault server ------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the server read it (headers lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Exchange:
    """What a behaviour may do with one request: answer it, or break the connection."""

    def __init__(self, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        self._handler = handler
        self.seen = seen

    def reply(self, status: int = 200, *, json_body: Any = None, body: bytes | str = b"",
              content_type: str | None = None, headers: Mapping[str, str] | None = None) -> None:
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
        handler = self._handler
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.flush()

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self._handler.wfile.write(data)
            self._handler.wfile.flush()

    def drop(self) -> None:
        """Close the connection without answering (FIN)."""
        self._handler.close_connection = True
        with contextlib.suppress(OSError):
            self._handler.connection.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0)."""
        self._handler.close_connection = True
        conn = self._handler.connection
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


Behaviour = Callable[[Exchange], None]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, owner: FaultServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.owner.lock:
            self.owner.connections += 1
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    body)
        behaviour = self.server.owner.next(seen)
        try:
            behaviour(Exchange(self, seen))
        except OSError:  # the client went away (timeouts): nothing to answer
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class FaultServer:
    """A loopback HTTP/1.1 server whose routes follow scripted behaviours.

    ``script(path, *behaviours)`` queues behaviours used once each, in order; when a path's
    queue is empty, ``default(path, behaviour)`` answers, else 404. ``count(path)`` counts
    requests; ``connections`` counts TCP connections accepted.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.connections = 0
        self._queues: dict[str, deque[Behaviour]] = defaultdict(deque)
        self._defaults: dict[str, Behaviour] = {}
        self._httpd = _HTTPServer(self)
        self.port: int = self._httpd.server_address[1]  # type: ignore[assignment]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def next(self, seen: Seen) -> Behaviour:
        path = seen.path.split("?", 1)[0]
        with self.lock:
            self.seen.append(seen)
            queue = self._queues[path]
            behaviour = queue.popleft() if queue else self._defaults.get(path)
        return behaviour or reply(404, json_body={"error": "not found"})

    def script(self, path: str, *behaviours: Behaviour) -> None:
        with self.lock:
            self._queues[path].extend(behaviours)

    def default(self, path: str, behaviour: Behaviour) -> None:
        with self.lock:
            self._defaults[path] = behaviour

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for s in self.seen if s.path.split("?", 1)[0] == path)

    def requests(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen
                    if path is None or s.path.split("?", 1)[0] == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# -- behaviours ------------------------------------------------------------------------------


def reply(status: int = 200, **kwargs: Any) -> Behaviour:
    return lambda ex: ex.reply(status, **kwargs)


def token(value: str, **extra: Any) -> Behaviour:
    """A successful token answer (Twitch shape unless ``extra`` overrides)."""
    return reply(200, json_body={"access_token": value, "token_type": "bearer",
                                 "expires_in": 3600, **extra})


def drop() -> Behaviour:
    return lambda ex: ex.drop()


def reset() -> Behaviour:
    return lambda ex: ex.reset()


def hang(seconds: float) -> Behaviour:
    def run(ex: Exchange) -> None:
        ex.sleep(seconds)
        ex.drop()
    return run


def reset_mid_body(status: int = 200, body: bytes = b'{"access_token": "partial-') -> Behaviour:
    """Send the headers and the start of a longer body, then RST."""
    def run(ex: Exchange) -> None:
        ex.head(status, {"Content-Type": "application/json", "Content-Length": "4096"})
        ex.write(body)
        ex.sleep(0.02)
        ex.reset()
    return run


def drop_mid_body(status: int = 200) -> Behaviour:
    """Send the headers and part of the declared body, then close cleanly (FIN)."""
    def run(ex: Exchange) -> None:
        ex.head(status, {"Content-Type": "application/json", "Content-Length": "4096"})
        ex.write(b'{"access_token": "x')
        ex.drop()
    return run


def trickle(interval: float, total_seconds: float) -> Behaviour:
    """Answer 200 with a chunked body that drips one byte every ``interval`` seconds."""
    def run(ex: Exchange) -> None:
        ex.head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        deadline = time.monotonic() + total_seconds
        ex.write(b"1\r\n{\r\n")
        while time.monotonic() < deadline:
            ex.sleep(interval)
            try:
                ex._handler.wfile.write(b"1\r\n \r\n")
                ex._handler.wfile.flush()
            except OSError:
                return
        ex.drop()
    return run


def huge(status: int, size: int, *, content_type: str = "application/json",
         prefix: bytes = b'{"message": "') -> Behaviour:
    """A body of ``size`` bytes sent in 64 KiB chunks (nothing held in the server's memory)."""
    def run(ex: Exchange) -> None:
        ex.head(status, {"Content-Type": content_type, "Content-Length": str(size)})
        ex.write(prefix)
        left = size - len(prefix)
        chunk = b"A" * 65536
        while left > 0:
            n = min(left, len(chunk))
            try:
                ex._handler.wfile.write(chunk[:n])
            except OSError:
                return
            left -= n
        with contextlib.suppress(OSError):
            ex._handler.wfile.flush()
    return run


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


@pytest.fixture
def other_server() -> Iterator[FaultServer]:
    """A second loopback server: where a redirect would take credentials."""
    server = FaultServer()
    yield server
    server.close()


# -- services and authentications on loopback ------------------------------------------------

TWITCH_HEADERS = {"Authorization": "Bearer {{access_token}}", "Client-Id": "{{client_id}}"}
SHOPIFY_HEADERS = {"X-Shopify-Access-Token": "{{access_token}}"}


def loopback_service(server: FaultServer, *, style: str = "twitch", service_id: str = "faulty",
                     token_path: str = "/token", revocation: bool = False,
                     **auth: Any) -> Service:
    """A service shaped like Twitch (Bearer + Client-Id) or Shopify (X-Shopify-Access-Token,
    no token_type) whose token endpoint and API are on ``server``."""
    headers = TWITCH_HEADERS if style == "twitch" else SHOPIFY_HEADERS
    if style == "shopify":
        auth.setdefault("default_token_type", "bearer")
    revoke = RevocationSpec(
        url=parse_template(f"{server.base}/revoke"),
        fields={"client_id": parse_template("{{client_id}}"),
                "token": parse_template("{{access_token}}")},
    ) if revocation else None
    return Service(
        id=service_id,
        title="Faulty",
        version="1.0.0",
        description="A service on a loopback fault server",
        parameters_schema={"type": "object"},
        parameters=(
            ParameterSpec("client_id", secret=False, required=True, type="string"),
            ParameterSpec("client_secret", secret=True, required=True, type="string"),
        ),
        auth=ClientCredentialsAuth(
            token_url=parse_template(f"{server.base}{token_path}"),
            client_id=parse_template("{{client_id}}"),
            client_secret=parse_template("{{client_secret}}"),
            headers={k: parse_template(v) for k, v in headers.items()},
            revocation=revoke,
            **auth,
        ),
        allowed_hosts=("127.0.0.1",),
        base_url=parse_template(f"{server.base}/api"),
        operations={},
        source="tests/reliability/conftest.py",
    )


def authentication(service: Service, secret: str, *, client_id: str = "client-1",
                   name: str = "main") -> Authentication:
    return Authentication(name=name, service=service,
                          parameters={"client_id": client_id, "client_secret": Secret(secret)})


FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def make_runtime(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Runtimes with their own home, loopback allowed, a short timeout and fast backoff."""
    made: list[Runtime] = []

    def make(*, timeout: float = 2.0, retry: RetryPolicy = FAST_RETRY, **kwargs: Any) -> Runtime:
        kwargs.setdefault("environ", {"CONNECTOR_SDK_HOME": str(tmp_path / "home")})
        kwargs.setdefault("http", HttpSettings(timeout=timeout, allow_loopback=True))
        options = {"retry": retry, **kwargs.pop("token_manager_options", {})}
        runtime = Runtime(allow_loopback=True, token_manager_options=options, **kwargs)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


# -- figures ---------------------------------------------------------------------------------


class Figures:
    """Adds figures to the test's report (``user_properties``) for reliability_plugin.py."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def scenario(self, scenario_id: str) -> None:
        """This test is one fault scenario; it survived if the test passes."""
        self._node.user_properties.append(("reliability.scenario", scenario_id))

    def add(self, name: str, amount: int = 1) -> None:
        """Add to a counted figure (``hostile.tried``, ``fuzz.examples``, ``canary.checks``)."""
        self._node.user_properties.append((f"reliability.{name}", amount))


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    assert isinstance(request.node, pytest.Item)
    return Figures(request.node)


class EverythingToLoopback(httpx.BaseTransport):
    """Sends every request to one loopback port whatever its host (a stand-in for DNS that
    would resolve an attacker's host): a URL that got past the policy would arrive there."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class ReliabilityKit:
    """Helpers for test modules (``--import-mode=importlib`` cannot import a conftest)."""

    reply = staticmethod(reply)
    token = staticmethod(token)
    drop = staticmethod(drop)
    reset = staticmethod(reset)
    hang = staticmethod(hang)
    reset_mid_body = staticmethod(reset_mid_body)
    drop_mid_body = staticmethod(drop_mid_body)
    trickle = staticmethod(trickle)
    huge = staticmethod(huge)
    service = staticmethod(loopback_service)
    authentication = staticmethod(authentication)
    EverythingToLoopback = EverythingToLoopback
    FaultServer = FaultServer
    FAST_RETRY = FAST_RETRY


@pytest.fixture
def rk() -> type[ReliabilityKit]:
    return ReliabilityKit

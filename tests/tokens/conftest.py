"""Fixtures for the token layer: a scriptable loopback HTTP server, services built in code,
an injectable monotonic clock and token managers that are closed after the test."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from connector_sdk._auth.manager import TokenManager
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


@dataclass
class Reply:
    """One scripted answer. ``drop`` closes the connection without answering; ``delay``
    sleeps first (slow endpoint, timeouts)."""

    status: int = 200
    json: Any = None
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen], Reply]


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # the default 5 drops concurrent connects (1 s SYN retries)
    daemon_threads = True


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 that counts requests per path.

    ``script(path, *replies)`` queues answers; when a path's queue is empty its default
    answer (``default(path, reply_or_handler)``) is used, else 404.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._queues: dict[str, deque[Reply | Handler]] = defaultdict(deque)
        self._defaults: dict[str, Reply | Handler] = {}
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                body = self._body()
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply = server._next(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.json is not None:
                    payload = json.dumps(reply.json).encode()
                    ctype = "application/json"
                else:
                    payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
                    ctype = "text/plain"
                headers = {"Content-Type": ctype, **reply.headers}
                try:
                    self.send_response(reply.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout tests)
                    self.close_connection = True

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

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self.port = self._httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _next(self, seen: Seen) -> Reply:
        path = seen.path.split("?", 1)[0]
        with self._lock:
            self.seen.append(seen)
            queue = self._queues[path]
            answer = queue.popleft() if queue else self._defaults.get(path)
        if answer is None:
            return Reply(404, json={"error": "not found"})
        return answer(seen) if callable(answer) else answer

    def script(self, path: str, *replies: Reply | Handler) -> None:
        with self._lock:
            self._queues[path].extend(replies)

    def default(self, path: str, reply: Reply | Handler) -> None:
        with self._lock:
            self._defaults[path] = reply

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for s in self.seen if s.path.split("?", 1)[0] == path)

    def requests(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.split("?", 1)[0] == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    yield srv
    srv.close()


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_service(
    server: LoopbackServer,
    *,
    service_id: str = "demo",
    token_path: str = "/token",
    headers: Mapping[str, str] | None = None,
    revocation: RevocationSpec | None = None,
    extra_parameters: tuple[ParameterSpec, ...] = (),
    **auth: Any,
) -> Service:
    """A service whose token endpoint and API live on ``server`` (loopback, any port)."""
    header_templates = headers or {
        "Authorization": "{{token_type}} {{access_token}}",
        "Client-Id": "{{client_id}}",
    }
    params = (
        ParameterSpec("client_id", secret=False, required=True, type="string"),
        ParameterSpec("client_secret", secret=True, required=True, type="string"),
        *extra_parameters,
    )
    return Service(
        id=service_id,
        title="Demo",
        version="1.0.0",
        description="A service on a loopback test server",
        parameters_schema={"type": "object"},
        parameters=params,
        auth=ClientCredentialsAuth(
            token_url=parse_template(f"{server.base}{token_path}"),
            client_id=parse_template("{{client_id}}"),
            client_secret=parse_template("{{client_secret}}"),
            headers={k: parse_template(v) for k, v in header_templates.items()},
            revocation=revocation,
            **auth,
        ),
        allowed_hosts=("127.0.0.1",),
        base_url=parse_template(f"{server.base}/api"),
        operations={},
        source="tests/tokens/conftest.py",
    )


def make_auth(service: Service, name: str = "main", **values: Any) -> Authentication:
    """An authentication; values of secret parameters are wrapped in ``Secret``."""
    secret = service.secret_parameters
    params = {k: Secret(v) if k in secret and isinstance(v, str) else v for k, v in values.items()}
    return Authentication(name=name, service=service, parameters=params)


def token_reply(token: str, **extra: Any) -> Reply:
    return Reply(200, json={"access_token": token, "token_type": "bearer", **extra})


FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def make_manager() -> Iterator[Callable[..., TokenManager]]:
    """Token managers with loopback allowed, a short timeout and fast backoff; closed after."""
    made: list[TokenManager] = []

    def make(**kwargs: Any) -> TokenManager:
        kwargs.setdefault("settings", HttpSettings(timeout=5.0, allow_loopback=True))
        kwargs.setdefault("retry", FAST_RETRY)
        manager = TokenManager(**kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()


class Kit:
    """Helpers for test modules (``--import-mode=importlib`` cannot import conftest)."""

    Reply = Reply
    FakeClock = FakeClock
    FAST_RETRY = FAST_RETRY

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server

    def service(self, **kwargs: Any) -> Service:
        return make_service(self.server, **kwargs)

    @staticmethod
    def auth(service: Service, name: str = "main", **values: Any) -> Authentication:
        return make_auth(service, name, **values)

    @staticmethod
    def token_reply(token: str, **extra: Any) -> Reply:
        return token_reply(token, **extra)


@pytest.fixture
def kit(server: LoopbackServer) -> Kit:
    return Kit(server)

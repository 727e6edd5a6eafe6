"""Fixtures for the HTTP audit classes: a raw-socket server that drips or floods, a service on
loopback with a token endpoint, an API operation and a revocation endpoint, and the gzip bomb.

The raw server is a plain socket on 127.0.0.1: it reads one request (headers and a
``Content-Length`` body) and hands the connection to a behaviour, so a test can drip the
status line and headers a byte at a time, which no HTTP server library lets one do.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import Runtime, hookimpl
from connector_sdk._http.retry import RetryPolicy
from connector_sdk._http.settings import HttpSettings

Behaviour = Callable[[socket.socket, bytes], None]

#: One attempt per token request: a drip test measures one exchange, not the retries.
ONE_ATTEMPT = RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.05)


class RawServer:
    """A socket server on 127.0.0.1; each connection runs ``behaviour(conn, request)``."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.closing = threading.Event()
        self.requests: list[bytes] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            conn.settimeout(5)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                self.requests.append(head + b"\r\n\r\n" + body)
                self.behaviour(conn, head)

    def drip(self, conn: socket.socket, data: bytes, interval: float) -> None:
        """Send ``data`` one byte every ``interval`` seconds until the client leaves."""
        for byte in data:
            if self.closing.wait(interval):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self.closing.set()
        self._sock.close()


def drip_headers(server: RawServer, interval: float = 1.0) -> Behaviour:
    """A status line, then header bytes one at a time, never ending the headers."""
    def run(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        server.drip(conn, b"X-Slow: " + b"a" * 10_000, interval)
    return run


def drip_body(server: RawServer, interval: float = 1.0, status: int = 200) -> Behaviour:
    """Whole headers at once, then the declared body one byte at a time."""
    def run(conn: socket.socket, request: bytes) -> None:
        conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                     "Content-Length: 10000\r\n\r\n".encode())
        server.drip(conn, b" " * 10_000, interval)
    return run


def serve(status: int, headers: dict[str, str], body: bytes) -> Behaviour:
    """One complete answer, the body sent in 64 KiB pieces."""
    def run(conn: socket.socket, request: bytes) -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        with contextlib.suppress(OSError):
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            view = memoryview(body)
            for start in range(0, len(body), 65536):
                conn.sendall(view[start:start + 65536])
    return run


def token_answer(token: str = "tok-1234567890") -> Behaviour:
    return serve(200, {"Content-Type": "application/json"},
                 f'{{"access_token": "{token}", "token_type": "bearer", "expires_in": 3600}}'
                 .encode())


class Routes:
    """Picks a behaviour by request path: the token endpoint, the API and revocation may
    each misbehave on their own."""

    def __init__(self, **by_path: Behaviour) -> None:
        self.by_path = {"/" + k.replace("_", "/"): v for k, v in by_path.items()}

    def __call__(self, conn: socket.socket, request: bytes) -> None:
        path = request.split(b" ", 2)[1].decode().split("?", 1)[0]
        for prefix, behaviour in self.by_path.items():
            if path.startswith(prefix):
                behaviour(conn, request)
                return
        serve(404, {"Content-Type": "application/json"}, b'{"error": "not found"}')(conn,
                                                                                  request)


@pytest.fixture
def raw_server() -> Iterator[Callable[[Behaviour], RawServer]]:
    made: list[RawServer] = []

    def make(behaviour: Behaviour) -> RawServer:
        server = RawServer(behaviour)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


MANIFEST = """\
manifest_version: 1
service:
  id: audit
  title: Audit API
  version: 1.0.0
  description: A test API on 127.0.0.1 for the audit classes.
parameters:
  type: object
  required: [client_id, client_secret, api_key]
  properties:
    client_id: {{type: string}}
    client_secret: {{type: string, secret: true}}
    api_key: {{type: string, secret: true}}
auth:
  grant: client_credentials
  token_url: {base}/token
  client_id: '{{{{ client_id }}}}'
  client_secret: '{{{{ client_secret }}}}'
  headers:
    Authorization: 'Bearer {{{{ access_token }}}}'
    Client-Id: '{{{{ client_id }}}}'
    X-Api-Key: '{{{{ api_key }}}}'
  revocation:
    url: {base}/revoke
    client_authentication: none
    fields:
      client_id: '{{{{ client_id }}}}'
      token: '{{{{ access_token }}}}'
allowed_hosts: ['127.0.0.1']
base_url: {base}/api
operations:
  get_thing:
    title: Get a thing
    description: One thing by id; an optional note travels in a header.
    input:
      type: object
      required: [id]
      properties:
        id: {{type: string}}
        note: {{type: string}}
    request:
      method: GET
      path: /things/{{{{ id }}}}
      headers: {{X-Note: '{{{{ note }}}}'}}
"""


class ManifestPlugin:
    """Registers the ``audit`` service for a server at ``base``."""

    def __init__(self, base: str) -> None:
        self.text = MANIFEST.format(base=base)

    @hookimpl
    def register_services(self, register: Callable[[Any], None]) -> None:
        register(self.text)


@pytest.fixture
def audit_runtime(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """``make(base, timeout=..., **http)``: a runtime with the ``audit`` service at ``base``."""
    made: list[Runtime] = []

    def make(base: str, *, timeout: float = 5.0, retry: RetryPolicy = ONE_ATTEMPT,
             **http: Any) -> Runtime:
        runtime = Runtime(environ={}, home=tmp_path / f"home-{len(made)}", allow_loopback=True,
                          http=HttpSettings(timeout=timeout, allow_loopback=True, **http),
                          token_manager_options={"retry": retry},
                          extra_plugins={"audit": ManifestPlugin(base)})
        assert not runtime.plugins.failures, runtime.plugins.failures
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def audit_auth(runtime: Runtime, secret: str = "s3cret", **values: str) -> Any:
    """An unstored authentication of ``audit`` (client id ``app``, the ``api_key`` given or
    a plain one)."""
    return runtime.authentication("audit", {"client_id": "app", "client_secret": secret,
                                            "api_key": "key-1", **values})


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Count this test as a scenario of ``scripts/reliability`` (it survives if it passes)."""
    def record(scenario_id: str) -> None:
        request.node.user_properties.append(("reliability.scenario", scenario_id))
    return record


@pytest.fixture
def canary_checks(request: pytest.FixtureRequest) -> Callable[[int], None]:
    """Count texts checked for canaries (``scripts/reliability``'s canary figure)."""
    def add(count: int) -> None:
        request.node.user_properties.append(("reliability.canary.checks", count))
    return add


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """Record a measured figure for ``scripts/reliability``'s table (``name``, value)."""
    def record(name: str, value: float) -> None:
        request.node.user_properties.append((f"reliability.figure.{name}", value))
    return record


def compression_bomb(coding: str, expanded_mib: int = 1024) -> bytes:
    """About 1 MB of ``gzip`` or ``deflate`` (or far less of ``br``) that expands to
    ``expanded_mib`` MiB of zeros, built in about a second: fully flushed deflate segments
    are byte-aligned and independent, so one segment is repeated and the trailer computed."""
    zeros = bytes(1 << 20)
    if coding == "br":
        import brotli

        compressor = brotli.Compressor(quality=1)
        return b"".join(compressor.process(zeros) for _ in range(expanded_mib)) + \
            compressor.finish()
    wbits = 31 if coding == "gzip" else 15
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    trailer_size = 8 if coding == "gzip" else 4
    final = compressor.flush(zlib.Z_FINISH)[:-trailer_size]  # the empty last block
    check = 0 if coding == "gzip" else 1
    for _ in range(expanded_mib):
        check = zlib.crc32(zeros, check) if coding == "gzip" else zlib.adler32(zeros, check)
    if coding == "gzip":
        trailer = struct.pack("<II", check, (expanded_mib << 20) & 0xFFFFFFFF)
    else:
        trailer = struct.pack(">I", check)
    return first + segment * (expanded_mib - 1) + final + trailer


@pytest.fixture(scope="session")
def bombs() -> Callable[[str], bytes]:
    """``bombs(coding)``: the 1 GiB bomb of that coding, built once per session."""
    made: dict[str, bytes] = {}

    def get(coding: str) -> bytes:
        if coding not in made:
            made[coding] = compression_bomb(coding)
        return made[coding]

    return get


def elapsed(call: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result or exception) of ``call``."""
    started = time.monotonic()
    try:
        result: Any = call()
    except Exception as exc:
        result = exc
    return time.monotonic() - started, result

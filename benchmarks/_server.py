"""The loopback token endpoint and JSON API every contender is measured against.

One ``BenchApp`` answers three kinds of path, with no I/O of its own:

* ``POST /token``: a generic OAuth2 client-credentials endpoint. It counts requests, answers
  after ``token_latency`` seconds (a real endpoint takes tens of ms) with a fresh
  ``access_token`` and ``expires_in``; it checks Basic client authentication.
* ``GET /api/items/ID``: a tiny JSON object, only for a token the endpoint issued and has not
  revoked (401 with ``WWW-Authenticate: Bearer error="invalid_token"`` otherwise).
  ``GET /api/items?first=N&after=CURSOR``: a cursor-paginated listing of ``list_total`` items
  (Twitch-style ``{"data": [...], "pagination": {"cursor": ...}}``).
* ``/_control/...``: ``stats`` (counters), ``reset`` (counters), ``config?token_latency=&
  expires_in=&list_total=`` and ``revoke`` (every issued token becomes invalid).

``serve`` runs the app as a raw asyncio HTTP/1.1 server with keep-alive, in its own process
(``ServerProcess``), so that the server neither shares the GIL with the contenders nor is the
bottleneck: parsing is a ``bytes.split`` and answers are pre-encoded. ``InProcessTransport``
and ``AsyncInProcessTransport`` answer through the same app inside the calling process (no
socket, no latency), so that socket cost does not hide library cost.

    python benchmarks/_server.py [--port 0]     # prints "PORT <n>" once listening
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"  # a throwaway credential of the loopback server, not a secret
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

Answer = tuple[int, list[tuple[str, str]], bytes]


@dataclass
class BenchApp:
    """The endpoint logic, shared by the socket server and the in-process transports."""

    token_latency: float = 0.0
    expires_in: float = 3600.0
    list_total: int = 100_000
    token_requests: int = 0
    api_requests: int = 0
    unauthorized: int = 0
    valid: set[str] = field(default_factory=set)
    _serial: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the three kinds of path --------------------------------------------------------

    def token(self, headers: dict[str, str], body: bytes) -> Answer:
        """Issue a token; the caller waits ``token_latency`` first (sync or async)."""
        with self._lock:
            self.token_requests += 1
        form = dict(parse_qsl(body.decode("ascii", "replace")))
        authorised = headers.get("authorization") == BASIC or (
            form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET)
        if form.get("grant_type") != "client_credentials" or not authorised:
            return _json(400 if authorised else 401, {"error": "invalid_client"})
        token = f"tok-{next(self._serial)}-{time.monotonic_ns()}"
        with self._lock:
            self.valid.add(token)
        expires: float | int = int(self.expires_in) if self.expires_in.is_integer() \
            else self.expires_in
        return _json(200, {"access_token": token, "token_type": "Bearer",
                           "expires_in": expires})

    def api(self, target: str, headers: dict[str, str]) -> Answer:
        path, _, query = target.partition("?")
        auth = headers.get("authorization", "")
        with self._lock:
            self.api_requests += 1
            allowed = auth.startswith("Bearer ") and auth[7:] in self.valid
            if not allowed:
                self.unauthorized += 1
        if not allowed:
            return (401, [("content-type", "application/json"),
                          ("www-authenticate", 'Bearer error="invalid_token"')],
                    b'{"error":"invalid_token"}')
        if path == "/api/items":
            return self._page(dict(parse_qsl(query)))
        if path.startswith("/api/items/"):
            return (200, [("content-type", "application/json")],
                    b'{"data":[{"id":"%s","ok":true}]}' % path[11:].encode())
        return _json(404, {"error": "not_found"})

    def control(self, target: str) -> Answer:
        path, _, query = target.partition("?")
        action = path.removeprefix("/_control/")
        with self._lock:
            if action == "reset":
                self.token_requests = self.api_requests = self.unauthorized = 0
            elif action == "revoke":
                self.valid.clear()
            elif action == "config":
                for key, value in parse_qsl(query):
                    if key in ("token_latency", "expires_in"):
                        setattr(self, key, float(value))
                    elif key == "list_total":
                        self.list_total = int(value)
            elif action != "stats":
                return _json(404, {"error": "unknown control"})
            return _json(200, {"token_requests": self.token_requests,
                               "api_requests": self.api_requests,
                               "unauthorized": self.unauthorized,
                               "token_latency": self.token_latency,
                               "expires_in": self.expires_in,
                               "list_total": self.list_total})

    def _page(self, query: dict[str, str]) -> Answer:
        start = int(query.get("after") or 0)
        size = min(int(query.get("first") or 100), 100)
        end = min(start + size, self.list_total)
        items = ",".join(
            f'{{"id":"{i}","name":"item {i}","value":{i * 7 % 1000}}}'
            for i in range(start, end))
        cursor = f'"{end}"' if end < self.list_total else "null"
        body = f'{{"data":[{items}],"pagination":{{"cursor":{cursor}}}}}'.encode()
        return 200, [("content-type", "application/json")], body

    def route(self, method: str, target: str, headers: dict[str, str],
              body: bytes) -> tuple[float, Answer]:
        """``(delay, answer)``: how long to wait before answering, and the answer."""
        if target.startswith("/_control/"):
            return 0.0, self.control(target)
        if target == "/token" and method == "POST":
            return self.token_latency, self.token(headers, body)
        return 0.0, self.api(target, headers)


def _json(status: int, payload: Any) -> Answer:
    return status, [("content-type", "application/json")], json.dumps(payload).encode()


# -- the socket server (its own process) ------------------------------------------------

_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found"}


def _encode(answer: Answer) -> bytes:
    status, headers, body = answer
    head = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"")),
            b"content-length: %d" % len(body)]
    head += [f"{k}: {v}".encode() for k, v in headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; requests on one connection are answered in order."""

    def __init__(self, app: BenchApp) -> None:
        self.app = app
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[tuple[float, Answer] | None] = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            lines = self.buffer[:head_end].decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4:head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length:]
            method, target, _ = lines[0].split(" ", 2)
            delay, answer = self.app.route(method, target, headers, body)
            if delay <= 0 and self.queue.empty():
                self._send(answer)
            else:
                self.queue.put_nowait((time.monotonic() + delay, answer))

    def _send(self, answer: Answer) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_encode(answer))

    async def _write(self) -> None:
        while (item := await self.queue.get()) is not None:
            due, answer = item
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._send(answer)


async def serve(port: int) -> None:
    app = BenchApp()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(app), "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    stop = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop  # the parent closes our stdin (or dies): stop


class ServerProcess:
    """``serve`` in a child process; ``control(action, **params)`` talks to it.

    Use as a context manager; the child stops when its stdin closes, so it never outlives
    the benchmark run.
    """

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--port", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self._control = httpx.Client(base_url=self.base, timeout=30)

    def control(self, action: str, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._control.get(f"/_control/{action}", params=params).json()
        return answer

    def close(self) -> None:
        self._control.close()
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- in-process transports --------------------------------------------------------------


def _answer(app: BenchApp, request: Any, body: bytes, http: Any = httpx) -> tuple[float, Any]:
    """The app's answer as a response of ``http`` (httpx, or an API-identical module)."""
    target = request.url.raw_path.decode("ascii")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1")
               for k, v in request.headers.raw}
    delay, (status, answer_headers, content) = app.route(request.method, target, headers, body)
    return delay, http.Response(status, headers=answer_headers, content=content)


class InProcessTransport(httpx.BaseTransport):
    """Answers through a ``BenchApp`` in this process: the library's cost, no socket's."""

    def __init__(self, app: BenchApp) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        delay, response = _answer(self.app, request, request.read())
        if delay > 0:
            time.sleep(delay)
        return response


class AsyncInProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: BenchApp) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        delay, response = _answer(self.app, request, await request.aread())
        if delay > 0:
            await asyncio.sleep(delay)
        return response


def foreign_transports(app: BenchApp, http: Any) -> tuple[Any, Any]:
    """In-process transports for another httpx-compatible module (``httpx2``): a client of
    that module accepts only its own transport and response classes."""

    class Sync(http.BaseTransport):  # type: ignore[misc, name-defined]
        def handle_request(self, request: Any) -> Any:
            delay, response = _answer(app, request, request.read(), http)
            if delay > 0:
                time.sleep(delay)
            return response

    class Async(http.AsyncBaseTransport):  # type: ignore[misc, name-defined]
        async def handle_async_request(self, request: Any) -> Any:
            delay, response = _answer(app, request, await request.aread(), http)
            if delay > 0:
                await asyncio.sleep(delay)
            return response

    return Sync(), Async()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()

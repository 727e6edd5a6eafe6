"""Helpers for the MCP tests: the server as a subprocess (stdio or HTTP), or on a loopback
port in a thread with a runtime the test built (its own emulators, clock and secrets).

Modules that need the ``mcp`` package skip with ``pip install 'connector-sdk[mcp]'`` when it
is missing; ``scripts/bootstrap`` installs the extra, so CI runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SKIP_REASON = "the MCP extra is not installed: pip install 'connector-sdk[mcp]'"
TOKEN = "t0k3n-" + "x" * 40  # a bearer token for the HTTP tests (not a provider secret)


def require_mcp() -> None:
    """Skip the calling module when the extra is missing, saying how to install it."""
    pytest.importorskip("mcp", reason=SKIP_REASON)


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a server subprocess: its own home, no rerouting, no token."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CONNECTOR_SDK_")}
    env["CONNECTOR_SDK_HOME"] = str(home)
    env.update(extra)
    return env


def serve_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "connector_sdk.cli", "mcp", "serve", *args]


def stdio_client(home: Path, *args: str, **client_options: Any) -> Any:
    """An ``mcp.Client`` that starts ``connector-sdk mcp serve ARGS`` and talks over stdio."""
    from mcp import Client, StdioServerParameters

    argv = serve_argv(*args)
    return Client(StdioServerParameters(command=argv[0], args=argv[1:], env=server_env(home)),
                  read_timeout_seconds=60, **client_options)


def http_client(url: str, *, token: str | None = None, **client_options: Any) -> Any:
    """An ``mcp.Client`` over streamable HTTP, sending ``token`` as a bearer token."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = streamable_http_client(
        url, http_client=httpx2.AsyncClient(headers=headers, timeout=60))
    return Client(transport, read_timeout_seconds=60, **client_options)


@contextlib.contextmanager
def http_subprocess(home: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``connector-sdk mcp serve --transport http --port 0 ARGS``; yields its URL."""
    process = subprocess.Popen(
        serve_argv("--transport", "http", "--port", "0", *args),
        env=env or server_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr or ()],
                     daemon=True).start()
    try:
        seen = []
        while True:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                raise AssertionError(f"the server did not start: {seen}") from None
            seen.append(line)
            if " on http://" in line:
                yield line.split(" on ", 1)[1].split(": ", 1)[0].strip()
                return
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def http_thread(runner: Any, **options: Any) -> Iterator[str]:
    """The server of ``runner`` on a free loopback port, in a thread; yields its URL."""
    from connector_sdk._mcp.http import HttpOptions, HttpServer
    from connector_sdk._mcp.server import build_server

    server = HttpServer(build_server(runner), HttpOptions(port=0, **options))
    ready = threading.Event()
    failures: list[BaseException] = []

    def main() -> None:
        async def serve() -> None:
            try:
                await server.serve(lambda _url: ready.set())
            finally:
                await runner.aclose()
        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(60), "the HTTP server did not start"
    assert not failures, failures
    try:
        yield server.url
    finally:
        server.stop()
        thread.join(30)
    assert not failures, failures


def result_json(result: Any) -> Any:
    """The JSON a tool result's first text block holds."""
    return json.loads(result.content[0].text)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)

"""``connector_sdk.asgi.callback_app``: the ASGI endpoint completing authorizations, called
as an ASGI server calls it, and ``examples/asgi_callback.py`` under a real uvicorn."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector_sdk import Runtime
from connector_sdk.asgi import callback_app
from connector_sdk.testing import assert_no_canary

from .consent import press_approve

ROOT = Path(__file__).parents[2]
CALLBACK = "http://127.0.0.1:8765/callback"


def call(app: Any, url: str, *, method: str = "GET", host: str = "127.0.0.1:8765"
         ) -> tuple[int, dict[str, str], str]:
    """One HTTP request through the ASGI interface: status, headers, body."""
    path, _, query = url.split("://", 1)[-1].partition("/")[2].partition("?")
    scope = {"type": "http", "method": method, "path": "/" + path, "scheme": "http",
             "query_string": query.encode(), "headers": [(b"host", host.encode())]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:]).decode()


@pytest.fixture
def sandboxed(tmp_path: Path) -> Any:
    import base64

    environ = {"CONNECTOR_SDK_HOME": str(tmp_path / "home"),
               "CONNECTOR_SDK_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode()}
    with Runtime(environ=environ, sandbox=True) as runtime:
        yield runtime


def test_the_callback_completes_and_redirects_to_the_success_url(sandboxed: Any) -> None:
    emulator = sandboxed.emulator("twitch")
    app = callback_app(sandboxed, success_url="https://app.example.com/done")
    begun = sandboxed.begin_authorization("twitch", "viewer", emulator.parameters(),
                                          redirect_url=CALLBACK)
    callback = emulator.approve(begun.url)
    status, headers, body = call(app, callback)
    assert status == 303
    assert headers["location"] == "https://app.example.com/done?authentication=viewer"
    assert headers["cache-control"] == "no-store" and headers["referrer-policy"] == "no-referrer"
    assert sandboxed.store.get("viewer").grant == "authorization_code"
    status, headers, body = call(app, callback)  # the same callback again: refused
    assert status == 400 and "used already" in body
    assert_no_canary(body, begun.state, callback.split("code=")[1].split("&")[0])


def test_a_declined_consent_is_a_400_page_and_other_paths_are_404(sandboxed: Any) -> None:
    emulator = sandboxed.emulator("shopify")
    app = callback_app(sandboxed)
    begun = sandboxed.begin_authorization("shopify", "store", emulator.parameters(),
                                          redirect_url=CALLBACK)
    status, _, body = call(app, emulator.approve(begun.url, deny=True))
    assert status == 400 and "declined" in body
    assert call(app, "http://127.0.0.1:8765/other")[0] == 404
    assert call(app, CALLBACK, method="POST")[0] == 405


def test_the_organisation_is_the_white_labelled_host_the_callback_came_to(
    tmp_path: Path,
) -> None:
    import base64

    redirects = {"redirects_version": 1, "redirect_urls": [
        "https://auth.example.com/callback", "http://acme.localhost:8765/callback"],
        "organisations": {"acme": {"redirect_url": "http://acme.localhost:8765/callback"}}}
    environ = {"CONNECTOR_SDK_HOME": str(tmp_path / "home"),
               "CONNECTOR_SDK_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode()}
    with Runtime(environ=environ, sandbox=True, redirects=redirects) as runtime:
        emulator = runtime.emulator("twitch")
        begun = runtime.begin_authorization("twitch", "acme-viewer", emulator.parameters(),
                                            organisation="acme")
        assert begun.redirect_url == "http://acme.localhost:8765/callback"
        app = callback_app(runtime)
        callback = emulator.approve(begun.url)
        # the platform's own host: not acme's, so the state bound to acme is refused
        status, _, body = call(app, callback, host="auth.example.com")
        assert status == 400 and "another organisation" in body
        again = runtime.begin_authorization("twitch", "acme-viewer", emulator.parameters(),
                                            organisation="acme")
        status, _, _ = call(app, emulator.approve(again.url), host="acme.localhost:8765")
        assert status == 200
        assert runtime.store.get("acme-viewer").grant == "authorization_code"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_example_runs_under_uvicorn(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CONNECTOR_SDK_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(ROOT), "CALLBACK_URL": f"{base}/callback"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.asgi_callback:app", "--port", str(port),
         "--host", "127.0.0.1", "--log-level", "warning"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(follow_redirects=False, timeout=30) as http:
            while True:
                try:
                    start = http.get(f"{base}/")
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline and server.poll() is None
                    time.sleep(0.2)
            assert start.status_code == 303
            back = press_approve(http, http.get(start.headers["location"]))
            assert back.headers["location"].startswith(f"{base}/callback?")
            done = http.get(back.headers["location"])
        assert done.status_code == 200 and "viewer" in done.text
    finally:
        server.terminate()
        server.communicate(timeout=30)

"""The connect page served for real: uvicorn on 127.0.0.1 in a thread, over a sandboxed
runtime whose emulators also listen on loopback (for the browser's consent pages), and
Debian's Chromium driven by Playwright (``executable_path``; nothing is downloaded).

Shared by ``tests/connect_page`` (over HTTP) and ``tests/browser`` (in Chromium, with that
directory's ``chromium`` and ``artifacts_dir`` fixtures), which import the ``serve``
fixture from here.

Organisations are on ``acme.localhost`` and ``globex.localhost``: Chromium resolves every
``*.localhost`` name to loopback (RFC 6761 §6.3), and httpx clients here send the Host
header themselves.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_EXTRA = ("starlette", "itsdangerous", "jinja2", "uvicorn")
if any(importlib.util.find_spec(name) is None for name in _EXTRA):
    if os.environ.get("CONNECTOR_SDK_REQUIRE_SERVICES", "").strip() == "1":
        raise RuntimeError("CONNECTOR_SDK_REQUIRE_SERVICES=1 but the connect-page extra is"
                           " not installed: pip install -e '.[connect-page]'")
    pytest.skip("the connect page needs its extra: pip install -e '.[connect-page]'",
                allow_module_level=True)

import uvicorn  # noqa: E402

from connector_sdk import Runtime  # noqa: E402
from connector_sdk.connect_page import ConnectPageConfig, create_app, load_config  # noqa: E402
from connector_sdk.sandbox import SandboxServer  # noqa: E402

__all__ = ["KEY", "ROOT", "Served", "free_socket", "serve", "serve_code", "write_config"]
KEY = "k" * 24 + "connect-page-test-key-0123456789"
ROOT = Path(__file__).resolve().parents[2]


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def write_config(directory: Path, port: int, *, frame_port: int = 1,
                 extra_services: str = "", max_age: int = 900,
                 globex_services: str = "      shopify: {}") -> Path:
    """A redirect file and a connect-page file for acme and globex on ``port``."""
    (directory / "redirects.yaml").write_text(f"""\
redirects_version: 1
redirect_urls:
  - http://platform.localhost:{port}/oauth2/callback
  - http://acme.localhost:{port}/oauth2/callback
  - http://globex.localhost:{port}/oauth2/callback
organisations:
  acme: {{redirect_url: http://acme.localhost:{port}/oauth2/callback}}
  globex: {{redirect_url: http://globex.localhost:{port}/oauth2/callback}}
""")
    path = directory / "connect-page.yaml"
    path.write_text(f"""\
connect_page_version: 1
redirects: redirects.yaml
session: {{key_env: CONNECT_PAGE_TEST_KEY, max_age: {max_age}}}
organisations:
  acme:
    frame_ancestors: [http://app.localhost:{frame_port}]
    branding:
      name: Acme Integrations
      colors: {{accent: "#0b57d0", background: "#ffffff", text: "#1f1f1f"}}
    services:
      shopify: {{grant: client_credentials}}
{extra_services}
  globex:
    branding: {{name: Globex}}
    services:
{globex_services}
""")
    return path


@dataclass
class Served:
    """A running connect page: its config, runtime, port and sandbox server."""

    config: ConnectPageConfig
    runtime: Runtime
    port: int
    sandbox: SandboxServer
    frame_port: int

    def origin(self, organisation: str) -> str:
        return f"http://{organisation}.localhost:{self.port}"


class _Thread:
    def __init__(self, app: Any, sock: socket.socket) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, access_log=False, lifespan="off",
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "the connect page did not start within 30 s"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[Callable[..., Served]]:
    """``serve(**write_config options)``: a connect page on a fresh home, started."""
    monkeypatch.setenv("CONNECT_PAGE_TEST_KEY", KEY)
    started: list[tuple[_Thread, Runtime, SandboxServer]] = []

    def start(*, frame_port: int = 1, extra_services: str = "", globex_services: str | None = None,
              environ: dict[str, str] | None = None, max_age: int = 900) -> Served:
        sock = free_socket()
        port = int(sock.getsockname()[1])
        path = write_config(tmp_path, port, frame_port=frame_port,
                            extra_services=extra_services, max_age=max_age,
                            **({"globex_services": globex_services} if globex_services else {}))
        env = {**os.environ, **(environ or {})}
        config = load_config(path, environ=env)
        runtime = Runtime(sandbox=True, home=tmp_path / "home", redirects=config.redirects,
                          environ=env)
        sandbox = SandboxServer(*runtime.sandboxes).start()
        app = create_app(runtime, config, sandbox=sandbox)
        started.append((_Thread(app, sock), runtime, sandbox))
        return Served(config=config, runtime=runtime, port=port, sandbox=sandbox,
                      frame_port=frame_port)

    yield start
    for thread, runtime, sandbox in started:
        thread.stop()
        sandbox.stop()
        runtime.close()


def serve_code(serve: Callable[..., Served], service: str, organisation: str) -> Served:
    """A page where ``organisation`` connects ``service`` (twitch or shopify) with the
    authorization code, the platform's client id and secret (the emulator's) fixed, the
    secret from the environment."""
    if service == "twitch":
        from connector_twitch.emulator import TWITCH_CLIENT_ID as client_id
        from connector_twitch.emulator import TWITCH_CLIENT_SECRET as secret
    else:
        from connector_shopify.emulator import SHOPIFY_CLIENT_ID as client_id
        from connector_shopify.emulator import SHOPIFY_CLIENT_SECRET as secret
    entry = (f"      {service}:\n        grant: authorization_code\n"
             f"        fixed: {{client_id: {client_id}, client_secret: '@env:CODE_SECRET'}}")
    where = "extra_services" if organisation == "acme" else "globex_services"
    return serve(**{where: entry}, environ={"CODE_SECRET": secret})

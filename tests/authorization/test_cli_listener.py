"""The ``auth connect`` loopback listener accepts the callback only from the browser that
opened its URL: ``/`` hands out the provider's URL (and the state in it) once, with a
random cookie, and ``/callback`` refuses an answer without that cookie even when its state
is right; any other local process can reach the listener (RFC 9700 §4.7, RFC 8252 §8.1)."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from connector_sdk.cli.auth_connect import _Listener
from connector_sdk.sandbox import SandboxServer

from .consent import press_approve
from .test_cli import CLI, _params, env, sandbox  # noqa: F401  (fixtures)

STATE = "the-state-0123456789"
PROVIDER = "http://127.0.0.1:9/authorize?state=" + STATE


@pytest.fixture
def listener() -> Iterator[_Listener]:
    server = _Listener(0, PROVIDER)
    server.state = STATE
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _base(server: _Listener) -> str:
    return f"http://127.0.0.1:{server.server_port}"


def test_the_start_url_sets_a_port_named_http_only_cookie_and_serves_once(
    listener: _Listener,
) -> None:
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        first = browser.get(_base(listener) + "/")
        again = browser.get(_base(listener) + "/")
    assert first.status_code == 302 and first.headers["location"] == PROVIDER
    cookie = first.headers["set-cookie"]
    name = cookie.split("=", 1)[0]
    assert name.startswith(f"connector_sdk_{listener.server_port}_")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert attributes == {"httponly", "samesite=lax", "path=/"}  # host-only: no Domain
    assert again.status_code == 409 and "already opened" in again.text
    assert "location" not in again.headers and "set-cookie" not in again.headers
    assert STATE not in again.text


def test_a_callback_without_the_browsers_cookie_is_refused_even_with_the_state(
    listener: _Listener,
) -> None:
    callback = f"{_base(listener)}/callback?code=c&state={STATE}"
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        browser.get(_base(listener) + "/")
        name = next(iter(browser.cookies.keys()))
        with httpx.Client(timeout=30) as other:  # another local process: no cookie
            assert other.get(callback).status_code == 400
            forged = other.get(callback, headers={"Cookie": f"{name}=guessed"})
            assert forged.status_code == 400
        assert not listener.arrived.is_set() and listener.callback is None
        wrong_state = browser.get(f"{_base(listener)}/callback?code=c&state=other")
        assert wrong_state.status_code == 400 and not listener.arrived.is_set()
        done = browser.get(callback)
    assert done.status_code == 200, done.text
    assert listener.arrived.is_set()
    assert listener.callback == callback


def test_auth_connect_ignores_a_callback_another_process_delivers_with_the_state(
    sandbox: tuple[SandboxServer, dict[str, Any]],  # noqa: F811
    env: dict[str, str],  # noqa: F811
) -> None:
    """The provider URL leaks to another process (the state with it): that process consents
    with its own session and delivers its callback first; without the cookie the listener
    refuses it, and the user's own callback completes the connection."""
    server, emulators = sandbox
    command = subprocess.Popen(
        [*CLI, "auth", "connect", "twitch", "--name", "me", *_params("twitch", emulators),
         "--timeout", "120", "--local-server", server.url],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert command.stdout is not None
    start = re.search(r"Open (http://127\.0\.0\.1:\d+/) ", command.stdout.readline())
    assert start
    with httpx.Client(follow_redirects=False, timeout=30) as user:
        provider_url = user.get(start.group(1)).headers["location"]
        with httpx.Client(follow_redirects=False, timeout=30) as attacker:
            assert attacker.get(start.group(1)).status_code == 409  # no second redirect
            back = press_approve(attacker, attacker.get(provider_url))
            stolen = attacker.get(back.headers["location"])
            assert stolen.status_code == 400
        page = user.get(provider_url)  # the emulator remembers the earlier consent
        mine = (page if page.status_code == 302 else press_approve(user, page)).headers[
            "location"]
        assert dict(parse_qsl(urlsplit(mine).query))["state"]
        assert user.get(mine).status_code == 200
    out, err = command.communicate(timeout=120)
    assert command.returncode == 0, err
    assert "connected authentication 'me'" in out

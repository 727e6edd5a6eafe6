"""``connector-sdk auth connect`` over a real loopback listener against the Twitch and
Shopify emulators on a loopback sandbox server, and ``auth update`` of a secret; no
secret, code, state or token in any output nor in the store's plaintext."""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from connector_shopify.emulator import ShopifySandbox
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import Runtime
from connector_sdk.sandbox import SandboxServer
from connector_sdk.testing import assert_no_canary

from .consent import press_approve

CLI = [sys.executable, "-m", "connector_sdk.cli"]
CLIENT = "abcdefghijklmnopqrstuvwxyz0123"  # Twitch's client-id pattern


@pytest.fixture
def sandbox(canary: str) -> Iterator[tuple[SandboxServer, dict[str, Any]]]:
    twitch = TwitchSandbox(clients={CLIENT: canary})
    shopify = ShopifySandbox()
    with SandboxServer(twitch, shopify) as server:
        yield server, {"twitch": twitch, "shopify": shopify}


@pytest.fixture
def env(tmp_path: Path, canary: str) -> dict[str, str]:
    return {**os.environ, "CONNECTOR_SDK_HOME": str(tmp_path / "home"), "SECRET": canary,
            "CONNECTOR_SDK_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode()}


def _params(service: str, emulators: dict[str, Any]) -> list[str]:
    if service == "twitch":
        return ["--param", f"client_id={CLIENT}", "--param", "client_secret=@env:SECRET"]
    values = emulators["shopify"].parameters()
    return ["--param", f"shopify_url={values['shopify_url']}", "--param",
            f"client_id={values['client_id']}", "--param", "client_secret=@env:SHOP_SECRET"]


def _consent(start: str) -> tuple[str, str]:
    """A browser on this machine: open the printed URL, press Approve, follow back."""
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        to_provider = http.get(start)
        assert to_provider.status_code == 302
        back = press_approve(http, http.get(to_provider.headers["location"]))
        callback = back.headers["location"]
        done = http.get(callback)
    assert done.status_code == 200, done.text
    return callback, to_provider.headers["location"]


@pytest.mark.parametrize("service", ["twitch", "shopify"])
def test_auth_connect_over_loopback_prints_no_secret(
    sandbox: tuple[SandboxServer, dict[str, Any]], env: dict[str, str], canary: str,
    service: str, tmp_path: Path,
) -> None:
    server, emulators = sandbox
    env["SHOP_SECRET"] = emulators["shopify"].parameters()["client_secret"]
    command = subprocess.Popen(
        [*CLI, "auth", "connect", service, "--name", "me", *_params(service, emulators),
         "--timeout", "120", "--local-server", server.url],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert command.stdout is not None
    first = command.stdout.readline()
    start = re.search(r"Open (http://127\.0\.0\.1:\d+/) ", first)
    assert start, first
    callback, provider_url = _consent(start.group(1))
    out, err = command.communicate(timeout=120)
    assert command.returncode == 0, err
    assert "connected authentication 'me'" in out
    query = dict(parse_qsl(urlsplit(callback).query))
    with Runtime(environ=env, sandbox_url=server.url) as runtime:
        token = runtime.get_token("me").access_token.reveal()
        record = runtime.store.get("me")
        refresh = record.tokens.reveal()  # type: ignore[union-attr]
    assert record.grant == "authorization_code"
    secrets = [canary, env["SHOP_SECRET"], query["code"], query["state"], token]
    assert_no_canary(first + out + err, *secrets)
    database = tmp_path / "home" / "authentications.db"
    with sqlite3.connect(database) as conn:  # the plaintext columns of every table
        rows = [repr(row) for table in ("authentications", "parameters",
                                        "pending_authorizations", "leases")
                for row in conn.execute(f"SELECT * FROM {table}")]
    assert_no_canary("\n".join(rows), *secrets, refresh)
    assert provider_url.startswith(f"{server.url}/_sandbox/")


def test_auth_connect_times_out_with_a_clear_message(
    sandbox: tuple[SandboxServer, dict[str, Any]], env: dict[str, str], canary: str,
) -> None:
    server, emulators = sandbox
    done = subprocess.run(
        [*CLI, "auth", "connect", "twitch", "--name", "late", *_params("twitch", emulators),
         "--timeout", "1", "--local-server", server.url],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "no answer from the provider within 1 s" in done.stderr
    assert_no_canary(done.stdout + done.stderr, canary)


def test_auth_update_of_a_secret_is_tested_before_it_is_saved(
    sandbox: tuple[SandboxServer, dict[str, Any]], env: dict[str, str], canary: str,
) -> None:
    server, emulators = sandbox
    base = [*CLI]
    local = ["--local-server", server.url]
    created = subprocess.run(
        [*base, "auth", "create", "twitch", "--name", "app", *_params("twitch", emulators)],
        env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    rotated = canary + "-rotated"
    env["NEW_SECRET"] = rotated
    # the provider does not know the new secret yet: the test fails, nothing is saved
    refused = subprocess.run(
        [*base, "auth", "update", "app", "--param", "client_secret=@env:NEW_SECRET", *local],
        env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "app" in refused.stderr
    with Runtime(environ=env, sandbox_url=server.url) as runtime:
        kept = runtime.store.get("app")
        assert kept.version == 1
        assert kept.parameters["client_secret"].reveal() == canary
    emulators["twitch"].clients[CLIENT] = rotated  # rotated at the provider
    updated = subprocess.run(
        [*base, "auth", "update", "app", "--param", "client_secret=@env:NEW_SECRET", *local],
        env=env, capture_output=True, text=True, timeout=120)
    assert updated.returncode == 0, updated.stderr
    assert "client_secret" in updated.stdout and "tested" in updated.stdout
    with Runtime(environ=env, sandbox_url=server.url) as runtime:
        saved = runtime.store.get("app")
        assert saved.version == 2
        assert saved.parameters["client_secret"].reveal() == rotated
        assert runtime.get_token("app").token_type == "Bearer"
    for done in (created, refused, updated):
        assert_no_canary(done.stdout + done.stderr, canary, rotated)

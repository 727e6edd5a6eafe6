"""``--local-server URL`` on auth test, call and run: a host-parameterized manifest (the
shipped Shopify one) reaches the kit's token server and API on loopback for the host its
parameters render, with no manifest edited; the same with ``CONNECTOR_SDK_SANDBOX_URL``; a
URL off loopback is refused before anything is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector_sdk.testing import APIServer, LoopbackServer, TokenServer, assert_no_canary

SHOP = "my-store.myshopify.com"


def cli(*args: str, home: Path, secret: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SDK_")}
    environ.update(CONNECTOR_SDK_HOME=str(home), SHOP_SECRET=secret, **env)
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args], env=environ,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def shop(local_server: LoopbackServer, canary: str, tmp_path: Path
         ) -> tuple[TokenServer, APIServer, Path]:
    tokens = TokenServer(local_server, path="/admin/oauth/access_token", host=SHOP,
                         clients={"app": canary}, token_type=None, expires_in=86399)
    api = APIServer(local_server, tokens=tokens, host=SHOP, prefix="/admin/api/2025-10")
    api.route("GET", "/shop.json", json={"shop": {"name": "Local Shop"}})
    home = tmp_path / "home"
    made = cli("auth", "create", "shopify", "--name", "dev", "--param", f"shopify_url={SHOP}",
               "--param", "client_id=app", "--param", "client_secret=@env:SHOP_SECRET",
               home=home, secret=canary)
    assert made.returncode == 0, made.stderr
    return tokens, api, home


def test_auth_test_and_call_reach_the_local_server(
    shop: tuple[TokenServer, APIServer, Path], local_server: LoopbackServer, canary: str,
) -> None:
    tokens, api, home = shop
    tested = cli("auth", "test", "dev", "--format", "json", "--local-server", local_server.url,
                 home=home)
    assert tested.returncode == 0, tested.stderr
    assert json.loads(tested.stdout)["ok"] is True
    assert f"note: --local-server: every request goes to {local_server.url}" in tested.stderr
    called = cli("call", "shopify.get_shop", "--auth", "dev", "--local-server",
                 local_server.url + "/", home=home)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout) == {"shop": {"name": "Local Shop"}}
    assert tokens.count == 2  # one per process
    assert {seen.host for seen in local_server.requests()} == {SHOP}
    assert_no_canary(tested.stdout + tested.stderr + called.stdout + called.stderr, canary)


def test_run_reaches_the_local_server_through_the_variable_too(
    shop: tuple[TokenServer, APIServer, Path], local_server: LoopbackServer, tmp_path: Path,
) -> None:
    _, api, home = shop
    workflow = tmp_path / "shop.yaml"
    workflow.write_text("workflow_version: 1\nname: shop\ndescription: The shop's name.\n"
                        "steps:\n  - id: shop\n    operation: shopify.get_shop\n"
                        "    authentication: dev\n")
    for flags, env in (((["--local-server", local_server.url]), {}),
                       ([], {"CONNECTOR_SDK_SANDBOX_URL": local_server.url})):
        ran = cli("run", str(workflow), "--format", "json", "--quiet", *flags, home=home, **env)
        assert ran.returncode == 0, ran.stderr
        assert "Local Shop" in ran.stdout
    assert api.count("/shop.json") == 2


@pytest.mark.parametrize("url", ["http://192.0.2.1:8080", "https://127.0.0.1:8443",
                                 "http://127.0.0.1", "http://127.0.0.1:8080/api",
                                 "http://user@127.0.0.1:80"])
def test_a_local_server_off_loopback_or_with_a_path_is_refused(
    shop: tuple[TokenServer, APIServer, Path], local_server: LoopbackServer, url: str,
) -> None:
    _, _, home = shop
    before = local_server.count()
    refused = cli("auth", "test", "dev", "--local-server", url, home=home)
    assert refused.returncode == 2
    assert "--local-server must be http://127.0.0.1:PORT" in refused.stderr
    assert local_server.count() == before


def test_local_server_and_sandbox_exclude_each_other(tmp_path: Path) -> None:
    both = cli("call", "twitch.get_top_games", "--sandbox", "--local-server",
               "http://127.0.0.1:9", home=tmp_path)
    assert both.returncode == 2
    assert "--local-server and --sandbox exclude each other" in both.stderr

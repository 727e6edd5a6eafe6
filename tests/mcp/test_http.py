"""The streamable HTTP transport: the mcp SDK's client against ``connector-sdk mcp serve
--transport http`` (a subprocess on a free loopback port), the Origin, Host and bearer-token
checks with raw requests, and the command-line refusals that happen before anything binds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from connector_sdk.cli import main

from .conftest import TOKEN, http_client, http_subprocess, require_mcp, run, server_env

require_mcp()

pytestmark = pytest.mark.timeout(120)

TWITCH = ("--sandbox", "--service", "twitch", "--operations", "twitch.get_users")
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "raw", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def post(url: str, **headers: str) -> httpx.Response:
    return httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=30)


def test_the_mcp_client_lists_and_calls_tools_over_http(tmp_path: Path) -> None:
    async def main_(url: str) -> Any:
        async with http_client(url) as client:
            tools = (await client.list_tools()).tools
            return tools, await client.call_tool("twitch_get_users", {"login": ["twitchdev"]})

    with http_subprocess(tmp_path, *TWITCH) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        tools, result = run(main_(url))
    assert [tool.name for tool in tools] == ["twitch_get_users"]
    assert tools[0].annotations.read_only_hint is True
    assert result.structured_content["data"][0]["login"] == "twitchdev"


def test_a_foreign_origin_is_refused_and_loopback_origins_pass(tmp_path: Path) -> None:
    with http_subprocess(tmp_path, *TWITCH, "--allowed-origin", "https://app.example.com") as url:
        foreign = post(url, Origin="http://evil.example")
        prefix_trick = post(url, Origin="http://127.0.0.1.evil.example:80")
        null = post(url, Origin="null")
        other_port = post(url, Origin="https://app.example.com:8443")
        loopback = post(url, Origin="http://localhost:3000")
        configured = post(url, Origin="https://app.example.com")
        no_origin = post(url)
    for refused in (foreign, prefix_trick, null, other_port):
        assert refused.status_code == 403
        assert "DNS rebinding" in refused.json()["error"]["message"]
        assert "id" not in refused.json()
    for allowed in (loopback, configured, no_origin):
        assert allowed.status_code == 200, allowed.text


def test_a_rebound_host_name_is_refused_on_loopback(tmp_path: Path) -> None:
    with http_subprocess(tmp_path, *TWITCH) as url:
        port = url.split(":")[2].split("/")[0]
        rebound = post(url, Host=f"attacker.example:{port}")
        wrong_port = post(url, Host="127.0.0.1:1")
        named = post(url, Host=f"localhost:{port}")
    assert rebound.status_code == 421 and wrong_port.status_code == 421
    assert named.status_code == 200


def test_without_its_bearer_token_the_http_transport_refuses(tmp_path: Path) -> None:
    env = server_env(tmp_path, CONNECTOR_SDK_MCP_TOKEN=TOKEN)

    async def listed(url: str) -> list[str]:
        async with http_client(url, token=TOKEN) as client:
            return [tool.name for tool in (await client.list_tools()).tools]

    with http_subprocess(tmp_path, *TWITCH, "--require-token", env=env) as url:
        missing = post(url)
        wrong = post(url, Authorization="Bearer " + "y" * 46)
        other_scheme = post(url, Authorization=f"Basic {TOKEN}")
        names = run(listed(url))
    for refused in (missing, wrong, other_scheme):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in refused.text
    assert names == ["twitch_get_users"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "localhost"])
def test_binding_off_the_default_host_without_a_token_is_refused_before_binding(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path))
    monkeypatch.delenv("CONNECTOR_SDK_MCP_TOKEN", raising=False)
    code = main(["mcp", "serve", *TWITCH, "--transport", "http", "--host", host])
    err = capsys.readouterr().err
    assert code == 2
    assert f"binding to {host} needs a bearer token: set CONNECTOR_SDK_MCP_TOKEN" in err


def test_a_short_token_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path))
    monkeypatch.setenv("CONNECTOR_SDK_MCP_TOKEN", "tiny-token-value")
    code = main(["mcp", "serve", *TWITCH, "--transport", "http", "--require-token"])
    err = capsys.readouterr().err
    assert code == 2 and "shorter than 32 characters" in err
    assert "tiny-token-value" not in err

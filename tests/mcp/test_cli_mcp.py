"""``connector-sdk mcp`` options and refusals, in-process through ``cli.main``; none of these
need the ``[mcp]`` extra (the missing extra is simulated)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import connector_sdk._mcp
from connector_sdk.cli import main

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path / "home"))


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_serve_without_the_extra_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector_sdk._mcp, "mcp_installed", lambda: False)
    code, _, err = cli(capsys, "mcp", "serve", "--sandbox", "--service", "twitch")
    assert code == 2
    assert "pip install 'connector-sdk[mcp]'" in err
    assert err.startswith("connector-sdk mcp serve: ")


def test_nothing_is_served_unless_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "mcp", "serve")
    assert code == 2 and "nothing is exposed by default" in err


def test_service_needs_the_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "mcp", "tools", "--service", "twitch")
    assert code == 2 and "--service needs --sandbox" in err


def test_sandbox_authentications_are_written_name_equals_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = cli(capsys, "mcp", "tools", "--sandbox", "--auth", "twitch")
    assert code == 2 and "write NAME=SERVICE" in err


def test_http_options_are_refused_on_stdio(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "mcp", "serve", "--sandbox", "--service", "twitch",
                       "--host", "0.0.0.0", "--port", "9")
    assert code == 2 and "--host, --port apply to --transport http only" in err


def test_an_unknown_stored_authentication_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "mcp", "tools", "--auth", "nobody")
    assert code == 1 and "nobody" in err


def test_tools_prints_the_definitions_serve_would_offer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cli(capsys, "mcp", "tools", "--sandbox", "--service", "twitch",
                       "--service", "shopify", "--operations", "*.get_*")
    assert code == 0
    names = [tool["name"] for tool in json.loads(out)]
    assert "twitch_get_users" in names and "shopify_get_product" in names
    assert "twitch_search_channels" not in names


def test_importing_the_sdk_and_building_the_cli_never_loads_mcp() -> None:
    code = ("import sys, connector_sdk, connector_sdk.cli as cli; cli.build_parser();"
            " import connector_sdk.cli.mcp; print(sorted(m for m in sys.modules"
            " if m == 'mcp' or m.startswith(('mcp.', 'mcp_types', 'uvicorn', 'starlette'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"

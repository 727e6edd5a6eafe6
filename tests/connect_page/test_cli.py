"""``connector-sdk connect-page serve|link``: a real process on loopback, and its errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from connector_sdk.cli import main

from .harness import KEY, write_config

ENV = {"CONNECT_PAGE_TEST_KEY": KEY}


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONNECT_PAGE_TEST_KEY", KEY)
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path / "home"))
    return write_config(tmp_path, 8400)


def test_link_prints_a_link_on_the_organisations_domain(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["connect-page", "link", "--config", str(config_file), "--organisation",
                 "acme", "--service", "shopify", "--name", "acme-shop", "--port", "9123"])
    assert code == 0
    assert re.fullmatch(r"http://acme\.localhost:9123/\?session=[\w.-]+\n",
                        capsys.readouterr().out)


def test_link_names_an_unknown_organisation_with_the_closest(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["connect-page", "link", "--config", str(config_file), "--organisation",
                 "acmee", "--service", "shopify", "--name", "x"])
    assert code == 1
    assert "did you mean 'acme'" in capsys.readouterr().err


def test_a_bad_config_is_reported_with_its_line_before_anything_listens(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file.write_text(config_file.read_text().replace("#0b57d0", "blue"))
    code = main(["connect-page", "serve", "--config", str(config_file), "--port", "0"])
    assert code == 1
    assert f"{config_file}:9:" in capsys.readouterr().err


def test_serve_refuses_a_non_loopback_host(config_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["connect-page", "serve", "--config", str(config_file), "--host", "0.0.0.0",
                 "--port", "0"])
    assert code == 2
    assert "loopback" in capsys.readouterr().err


def test_serve_prints_where_it_listens_and_serves_a_minted_link(
        config_file: Path, tmp_path: Path) -> None:
    env = {**os.environ, **ENV, "CONNECTOR_SDK_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [sys.executable, "-m", "connector_sdk.cli", "connect-page", "serve", "--config",
         str(config_file), "--sandbox", "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        assert process.stderr is not None
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)
        port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)", text).group(1))
        assert f"acme: http://acme.localhost:{port}/" in text
        assert f"--organisation acme --service shopify --name NAME --port {port}" in text
        link = subprocess.run(
            [sys.executable, "-m", "connector_sdk.cli", "connect-page", "link", "--config",
             str(config_file), "--organisation", "acme", "--service", "shopify", "--name",
             "tried", "--port", str(port)],
            capture_output=True, text=True, env=env, check=True).stdout.strip()
        answer = httpx.get(f"http://127.0.0.1:{port}{link[link.index('/?'):]}",
                           headers={"Host": f"acme.localhost:{port}"}, timeout=30)
        assert answer.status_code == 200 and "Connect Shopify Admin API" in answer.text
    finally:
        process.terminate()
        process.wait(timeout=30)

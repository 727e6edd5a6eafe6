"""The ``chromium`` fixture's contract without a browser: a skip that says how to install
one locally, a failure under ``CONNECTOR_SDK_REQUIRE_SERVICES=1`` (CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def run_without_chromium(tmp_path: Path, require: str | None) -> subprocess.CompletedProcess[str]:
    conftest = (HERE / "conftest.py").read_text()
    assert 'CHROMIUM = "/usr/bin/chromium"' in conftest
    (tmp_path / "conftest.py").write_text(
        conftest.replace('CHROMIUM = "/usr/bin/chromium"', 'CHROMIUM = "/nonexistent/chromium"'))
    (tmp_path / "test_needs_browser.py").write_text(
        "def test_needs_browser(chromium):\n    raise AssertionError('must not run')\n")
    env = {k: v for k, v in os.environ.items() if k != "CONNECTOR_SDK_REQUIRE_SERVICES"}
    if require is not None:
        env["CONNECTOR_SDK_REQUIRE_SERVICES"] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rsE", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("require", [None, "0"])
def test_missing_chromium_skips_with_the_install_commands(
        tmp_path: Path, require: str | None) -> None:
    result = run_without_chromium(tmp_path, require)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "/nonexistent/chromium is not installed; install chromium:" in result.stdout
    assert "bash scripts/services install" in result.stdout


def test_missing_chromium_fails_when_services_are_required(tmp_path: Path) -> None:
    result = run_without_chromium(tmp_path, "1")
    assert result.returncode == 1, result.stdout
    assert "CONNECTOR_SDK_REQUIRE_SERVICES=1 but /nonexistent/chromium is not installed" \
        in result.stdout
    assert "must not run" not in result.stdout

"""``connector-sdk run`` as a user runs it: a subprocess, the emulators, exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from connector_twitch.emulator import TwitchSandbox

from connector_sdk.sandbox import SandboxServer

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_readme_main_job_prints_a_readable_summary(tmp_path: Path) -> None:
    env = dict(os.environ, CONNECTOR_SDK_HOME=str(tmp_path / "home"))
    result = run("run", "examples/twitch-top-streams.yaml", "--sandbox", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("workflow twitch-top-streams (sandbox): succeeded in")
    assert "top_game: " in out and "viewer_count" in out and "display_name" in out
    assert "[3/3] streamers: twitch.get_users as 'twitch', 5 item(s)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home").exists()  # sandbox runs store nothing


@pytest.mark.parametrize("example", ["twitch-top-streams.yaml", "shopify-catalog.yaml"])
def test_examples_run_in_json(example: str) -> None:
    result = run("run", f"examples/{example}", "--sandbox", "--format", "json", "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert all(step["status"] == "succeeded" for step in report["steps"].values())
    assert result.stderr == ""


def test_bad_input_value_is_a_usage_error_with_nothing_on_stdout() -> None:
    result = run("run", "examples/twitch-top-streams.yaml", "--sandbox", "--input",
                 "streams=many")
    assert result.returncode == 2
    assert "--input streams: 'many' is not a valid integer" in result.stderr
    assert result.stdout == ""


def test_unknown_input_and_missing_file_are_usage_errors() -> None:
    unknown = run("run", "examples/twitch-top-streams.yaml", "--sandbox", "-i", "colour=red")
    assert unknown.returncode == 2 and "has no input 'colour'" in unknown.stderr
    missing = run("run", "examples/nope.yaml", "--sandbox")
    assert missing.returncode == 2 and "no such workflow file" in missing.stderr


def test_invalid_workflow_lists_problems_with_file_and_line() -> None:
    fixture = "tests/workflows/fixtures/invalid/WORKFLOW-STEP-UNKNOWN.yaml"
    result = run("run", fixture, "--sandbox")
    assert result.returncode == 2
    assert f"{fixture}:10:17: WORKFLOW-STEP-UNKNOWN" in result.stderr
    assert result.stdout == ""


@pytest.fixture
def loopback_env(tmp_path: Path, canary: str) -> Iterator[dict[str, str]]:
    """A stored authentication whose secret (a canary) the loopback emulator rejects."""
    twitch = TwitchSandbox()  # accepts only the documented sandbox secret
    with SandboxServer(twitch) as server:
        env = dict(os.environ, CONNECTOR_SDK_HOME=str(tmp_path / "home"),
                   CONNECTOR_SDK_SANDBOX_URL=server.url, TWITCH_SECRET=canary)
        client_id = TwitchSandbox().parameters()["client_id"]
        created = run("auth", "create", "twitch", "--name", "twitch", "--param",
                      f"client_id={client_id}", "--param", "client_secret=@env:TWITCH_SECRET",
                      env=env)
        assert created.returncode == 0, created.stderr
        yield env


def test_failing_step_exits_1_with_the_report_and_no_secret(
        loopback_env: dict[str, str], canary: str) -> None:
    result = run("run", "examples/twitch-top-streams.yaml", "--format", "json",
                 env=loopback_env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    error = report["error"]
    assert (error["step"], error["operation"], error["authentication"], error["status"]) == (
        "top_games", "twitch.get_top_games", "twitch", 403)
    assert error["provider_message"] == "invalid client secret"
    assert "[1/3] top_games: FAILED" in result.stderr
    text = run("run", "examples/twitch-top-streams.yaml", env=loopback_env)
    assert text.returncode == 1
    assert "error: step 'top_games' (twitch.get_top_games as 'twitch'): HTTP 403" in text.stdout
    for output in (result.stdout, result.stderr, text.stdout, text.stderr):
        assert canary not in output


def test_running_a_service_manifest_says_what_it_is() -> None:
    result = run("run", "connectors/twitch/connector_twitch/twitch.yaml", "--sandbox")
    assert result.returncode == 2
    assert "is a service manifest, not a workflow" in result.stderr

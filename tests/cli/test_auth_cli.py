"""``connector-sdk auth`` as an operator uses it, against the loopback Twitch emulator.

The CLI runs in a subprocess (as a user runs it) with CONNECTOR_SDK_SANDBOX_URL routing the
real Twitch URLs to the emulator. The client secret is a canary: it must appear in no output
and in no process's command line.
"""

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

CLIENT_ID = TwitchSandbox().parameters()["client_id"]


@pytest.fixture
def env(tmp_path: Path, canary: str) -> Iterator[dict[str, str]]:
    twitch = TwitchSandbox(clients={CLIENT_ID: canary})
    with SandboxServer(twitch) as server:
        yield dict(os.environ, CONNECTOR_SDK_HOME=str(tmp_path / "home"),
                   CONNECTOR_SDK_SANDBOX_URL=server.url, TWITCH_SECRET=canary)


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", "auth", *args],
                          env=env, capture_output=True, text=True, timeout=120, check=False,
                          input=stdin)


def no_leak(result: subprocess.CompletedProcess[str], canary: str) -> None:
    assert canary not in result.stdout
    assert canary not in result.stderr
    assert "Traceback" not in result.stderr


def create(env: dict[str, str], name: str = "app") -> subprocess.CompletedProcess[str]:
    return cli(env, "create", "twitch", "--name", name, "--param", f"client_id={CLIENT_ID}",
               "--param", "client_secret=@env:TWITCH_SECRET")


def test_full_life_cycle_in_json(env: dict[str, str], canary: str) -> None:
    created = create(env)
    assert created.returncode == 0, created.stderr
    listed = cli(env, "list", "--format", "json")
    shown = cli(env, "show", "app", "--format", "json")
    tested = cli(env, "test", "app", "--format", "json")
    deleted = cli(env, "delete", "app", "--format", "json")
    for result in (created, listed, shown, tested, deleted):
        assert result.returncode == 0, result.stderr
        no_leak(result, canary)
    assert [a["name"] for a in json.loads(listed.stdout)["authentications"]] == ["app"]
    assert json.loads(shown.stdout)["parameters"]["client_secret"] == "**********"
    test = json.loads(tested.stdout)
    assert test["ok"] is True
    assert test["token_type"].lower() == "bearer"
    assert test["expires_in"] > 0
    assert test["test_token_revoked"] is True
    assert json.loads(deleted.stdout)["deleted"] is True
    gone = cli(env, "show", "app")
    assert gone.returncode == 1
    assert "no authentication named 'app'" in gone.stderr


def test_secret_from_a_file(env: dict[str, str], canary: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(canary + "\n")
    result = cli(env, "create", "twitch", "--name", "f", "--param", f"client_id={CLIENT_ID}",
                 "--param", f"client_secret=@file:{secret_file}")
    assert result.returncode == 0, result.stderr
    assert cli(env, "test", "f").returncode == 0


def test_literal_secret_on_the_command_line_is_refused(env: dict[str, str]) -> None:
    result = cli(env, "create", "twitch", "--name", "x", "--param", f"client_id={CLIENT_ID}",
                 "--param", "client_secret=typed-in-clear")
    assert result.returncode == 2
    assert "cannot be given on the command line" in result.stderr
    assert "typed-in-clear" not in result.stderr + result.stdout


def test_missing_secret_without_a_terminal_says_how(env: dict[str, str]) -> None:
    result = cli(env, "create", "twitch", "--name", "x", "--param", f"client_id={CLIENT_ID}",
                 stdin="")
    assert result.returncode == 2
    assert "client_secret=@env:VAR" in result.stderr


def test_unset_environment_variable(env: dict[str, str]) -> None:
    result = cli(env, "create", "twitch", "--name", "x", "--param", f"client_id={CLIENT_ID}",
                 "--param", "client_secret=@env:NOT_SET_ANYWHERE")
    assert result.returncode == 2
    assert "NOT_SET_ANYWHERE is not set" in result.stderr


def test_invalid_parameters_list_every_field(env: dict[str, str], canary: str) -> None:
    result = cli(env, "create", "twitch", "--name", "x", "--param", "client_id=short",
                 "--param", "client_secret=@env:TWITCH_SECRET", "--param", "scope=x")
    assert result.returncode == 1
    assert "client_id does not match the pattern" in result.stderr
    assert "scope is not a parameter" in result.stderr
    no_leak(result, canary)


def test_wrong_secret_fails_test_with_the_providers_message(
    env: dict[str, str], canary: str
) -> None:
    env = dict(env, TWITCH_SECRET="wrong-" + canary[-6:])
    assert create(env).returncode == 0
    result = cli(env, "test", "app")
    assert result.returncode == 1
    assert "403" in result.stderr
    assert "invalid client secret" in result.stderr
    no_leak(result, canary)

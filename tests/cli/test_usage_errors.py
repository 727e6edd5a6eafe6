"""A command-line mistake ends the same way in every subcommand: exit code 2, one line naming
the command on stderr, nothing on stdout, no traceback (``cli.main`` is the one place that
turns ``UsageError`` into that)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    (["run", "missing.yaml"], "connector-sdk run: no such workflow file: missing.yaml"),
    (["run", "flow.yaml", "--input", "nothing"], "connector-sdk run: --input 'nothing': write"),
    (["run", "flow.yaml", "--input", "count=many"],
     "connector-sdk run: --input count: 'many' is not a valid integer"),
    (["call", "twitch.get_users"], "connector-sdk call: give --auth NAME"),
    (["call", "twitch.get_users", "--sandbox", "--max-pages", "0"],
     "connector-sdk call: --max-pages must be at least 1"),
    (["auth", "create", "twitch", "--name", "app", "--param", "client_secret=plain"],
     "connector-sdk auth create: secret parameter 'client_secret' cannot be given on the"),
    (["sandbox", "twitch", "--port", "70000"], "connector-sdk sandbox: --port must be from 0"),
    (["validate", "missing.yaml"], "connector-sdk validate: no such file or directory"),
    (["nonsense"], "connector-sdk: error: argument COMMAND: invalid choice: 'nonsense'"),
]

FLOW = """\
workflow_version: 1
inputs:
  count: {type: integer, default: 1}
steps:
  - {id: games, operation: twitch.get_top_games, authentication: t,
     inputs: {first: "{{ inputs.count }}"}}
"""


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_usage_error_exits_2_with_one_message_and_no_traceback(
        tmp_path: Path, argv: list[str], message: str) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW)
    env = dict(os.environ, CONNECTOR_SDK_HOME=str(tmp_path / "home"))
    env.pop("CONNECTOR_SDK_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "connector_sdk.cli", *argv], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "home").exists()  # refused before the store was touched

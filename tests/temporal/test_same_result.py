"""A workflow on Temporal gives the report a local run gives: same outputs, same exit code.

Two worker processes serve the run; the example workflow runs once with the in-process
emulators (``--sandbox`` on the workers and on the command) and once against the Twitch
emulator on loopback (``CONNECTOR_SDK_SANDBOX_URL``, a stored authentication).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector_twitch.emulator import TWITCH_CLIENT_ID, TwitchSandbox
from devserver import DevServer
from temporal_harness import base_env, cli, report, without_durations

from connector_sdk.sandbox import SandboxServer

EXAMPLE = "examples/twitch-top-streams.yaml"


def test_in_process_sandbox_run_matches_the_local_run(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Any]
) -> None:
    env = base_env(tmp_path)
    workers = workers_factory(env, temporal).start(2, "--sandbox")
    remote = cli(env, "run", EXAMPLE, "--sandbox", "--format", "json", "--input", "streams=7",
                 *workers.run_args())
    local = cli(env, "run", EXAMPLE, "--sandbox", "--format", "json", "--input", "streams=7")
    assert (remote.returncode, local.returncode) == (0, 0), remote.stderr[-3000:]
    assert without_durations(report(remote)) == without_durations(report(local))
    assert len(report(remote)["outputs"]["streamers"]) == 7
    text = cli(env, "run", EXAMPLE, "--sandbox", *workers.run_args())
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].startswith("workflow twitch-top-streams (sandbox):"
                                                  " succeeded")


def test_loopback_sandbox_run_matches_the_local_run(
    tmp_path: Path, temporal: DevServer, workers_factory: Callable[..., Any], canary: str
) -> None:
    emulator = TwitchSandbox(clients={TWITCH_CLIENT_ID: canary})
    with SandboxServer(emulator) as server:
        env = base_env(tmp_path, CONNECTOR_SDK_SANDBOX_URL=server.url, TWITCH_SECRET=canary)
        created = cli(env, "auth", "create", "twitch", "--name", "twitch", "--param",
                      f"client_id={TWITCH_CLIENT_ID}", "--param",
                      "client_secret=@env:TWITCH_SECRET")
        assert created.returncode == 0, created.stderr
        workers = workers_factory(env, temporal).start(2)
        remote = cli(env, "run", EXAMPLE, "--format", "json", *workers.run_args())
        local = cli(env, "run", EXAMPLE, "--format", "json")
    assert (remote.returncode, local.returncode) == (0, 0), remote.stderr[-3000:]
    assert without_durations(report(remote)) == without_durations(report(local))
    assert canary not in remote.stdout + remote.stderr + workers.logs()

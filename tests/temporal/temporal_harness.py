"""Helpers of the Temporal tests and benchmark: the CLI in a subprocess, worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from devserver import DevServer

from connector_sdk._stores.crypto import generate_key_text

ROOT = Path(__file__).parents[2]
#: A foreach of ``twitch.get_users`` over ``inputs.ids`` (CONCURRENCY to replace), its
#: outputs referring to the step.
FANOUT = """\
workflow_version: 1
name: fanout
inputs:
  ids: {type: array}
steps:
  - id: users
    operation: twitch.get_users
    authentication: twitch
    foreach: "{{ inputs.ids }}"
    concurrency: CONCURRENCY
    inputs:
      id: ["{{ item }}"]
outputs:
  users: "{{ steps.users }}"
"""


def cli(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT)


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SDK_")}
    env.update(CONNECTOR_SDK_HOME=str(tmp_path / "home"),
               CONNECTOR_SDK_SECRET_KEY=generate_key_text(), **extra)
    return env


class Workers:
    """``connector-sdk worker`` processes on one task queue."""

    def __init__(self, env: dict[str, str], server: DevServer, directory: Path) -> None:
        self.env, self.server, self.directory = env, server, directory
        self.queue = f"q-{uuid.uuid4().hex[:8]}"
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, count: int = 2, *extra: str, command: list[str] | None = None) -> Workers:
        """Start ``count`` workers and wait until each serves; ``command`` replaces
        ``connector-sdk worker --temporal … --task-queue …`` (the benchmark's floor)."""
        argv = command or [sys.executable, "-m", "connector_sdk.cli", "worker", "--temporal",
                           self.server.address, "--task-queue", self.queue]
        started = []
        for index in range(count):
            log = (self.directory / f"worker-{len(self.processes)}.log").open("w")
            process = subprocess.Popen(
                [*argv, *extra], env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True,
                cwd=ROOT)
            self.processes.append(process)
            started.append((process, Path(log.name), index))
        for process, log_path, _ in started:
            deadline = time.monotonic() + 120
            while "worker: serving" not in log_path.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"worker did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
        return self

    def logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.directory.glob("worker-*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)

    def run_args(self) -> list[str]:
        return ["--engine", "temporal", "--temporal", self.server.address, "--task-queue",
                self.queue]


def without_durations(value: Any) -> Any:
    """The report with timings removed (they differ between any two runs)."""
    if isinstance(value, dict):
        return {k: without_durations(v) for k, v in value.items() if k != "duration_ms"}
    if isinstance(value, list):
        return [without_durations(v) for v in value]
    return value


def report(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.stdout.strip(), result.stderr[-3000:]
    return json.loads(result.stdout)

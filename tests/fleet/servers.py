"""Real Redis and PostgreSQL servers on 127.0.0.1, started in temporary directories.

Used by the fleet tests' fixtures and by ``benchmarks/fleet.py``. A server is started from
the machine's own binaries (``redis-server``; PostgreSQL's ``initdb`` and ``postgres``,
which Debian keeps in ``/usr/lib/postgresql/<version>/bin``) on a free loopback port, its
files in a fresh temporary directory that ``stop`` removes. PostgreSQL refuses to run as
root, so under root it runs as the ``postgres`` user (or ``nobody``) and its directory is
handed to that user. ``bash scripts/services install`` installs the binaries.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["HOW_TO_GET", "PostgresServer", "RedisServer", "Unavailable", "free_port"]

HOW_TO_GET = (
    "run `bash scripts/services install` (as root: apt-get install redis-server postgresql), "
    "or point CONNECTOR_SDK_TEST_REDIS_URL / CONNECTOR_SDK_TEST_POSTGRESQL_URL at servers"
)


class Unavailable(Exception):
    """The server's binaries are not on this machine."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within 60 s")


class RedisServer:
    """``redis-server`` on a free loopback port, no persistence; ``stop``/``start`` keep
    the port, so a test can take Redis away and bring it back at the same URL."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise Unavailable(f"redis-server is not installed; {HOW_TO_GET}")
        self._binary = binary
        self.directory = Path(tempfile.mkdtemp(prefix="connector-sdk-redis-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = self.directory / "redis.log"
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.directory), "--save", "", "--appendonly", "no", "--logfile", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self._process, "redis-server", log)
        return self

    def stop(self) -> None:
        """Kill the server at once (SIGKILL: an outage, not a shutdown)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(30)
            self._process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it keeps its data but answers nothing (a hung host)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda path: int(Path(path).parents[1].name)
                        if Path(path).parents[1].name.isdigit() else 0)
    return candidates[-1] if candidates else None


class PostgresServer:
    """A fresh PostgreSQL cluster (``initdb``, trust auth on loopback) on a free port."""

    def __init__(self) -> None:
        initdb, postgres = _pg_binary("initdb"), _pg_binary("postgres")
        if initdb is None or postgres is None:
            raise Unavailable(f"PostgreSQL (initdb, postgres) is not installed; {HOW_TO_GET}")
        self._initdb, self._postgres = initdb, postgres
        self.directory = Path(tempfile.mkdtemp(prefix="connector-sdk-pg-"))
        self.port = free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = next((name for name in ("postgres", "nobody") if _user_exists(name)),
                              None)
            if self._user is None:
                raise Unavailable("PostgreSQL refuses to run as root and no 'postgres' or "
                                  "'nobody' user exists to run it as")
            entry = pwd.getpwnam(self._user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://connector@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        data = self.directory / "data"
        log = self.directory / "postgres.log"
        if not data.exists():
            subprocess.run([self._initdb, "-D", str(data), "-U", "connector", "--auth=trust",
                            "-E", "UTF8", "--no-sync", "--no-instructions"],
                           user=self._user, check=True, capture_output=True, timeout=300)
        self._process = subprocess.Popen(
            [self._postgres, "-D", str(data), "-p", str(self.port), "-k", str(self.directory),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            user=self._user, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
        _wait_for_port(self.port, self._process, "postgres", log)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=5).close()
                return
            except psycopg.OperationalError:  # "the database system is starting up"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self._process.wait(60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(30)
            self._process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True

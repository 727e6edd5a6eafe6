"""Real Redis and PostgreSQL for the fleet tests: from ``scripts/services``, or started here.

A server comes from ``CONNECTOR_SDK_TEST_REDIS_URL`` / ``CONNECTOR_SDK_TEST_POSTGRESQL_URL``
(the environment, or the ``.services/env`` file ``bash scripts/services start`` writes), else
it is started for the session from the machine's binaries (``servers.py``). Without either,
the tests that need it are skipped with a message saying how to get it, except under
``CONNECTOR_SDK_REQUIRE_SERVICES=1`` (CI), where they fail: CI must never skip them.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import PostgresServer, RedisServer, Unavailable

ROOT = Path(__file__).parents[2]


def _configured(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    env_file = ROOT / ".services" / "env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, _, found = line.removeprefix("export ").partition("=")
            if key.strip() == name and found.strip():
                return found.strip().strip("'\"")
    return None


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (CI) a test whose server cannot be had."""
    if os.environ.get("CONNECTOR_SDK_REQUIRE_SERVICES", "").strip() == "1":
        pytest.fail(f"CONNECTOR_SDK_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def _running(factory: type[RedisServer] | type[PostgresServer]) -> Iterator[Any]:
    """A started server of ``factory`` for the fixture's scope, or a skip (locally) or a
    failure (CI) when its binaries are missing."""
    try:
        server = factory().start()
    except Unavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A running Redis (shared by the session: tests use their own key prefixes)."""
    url = _configured("CONNECTOR_SDK_TEST_REDIS_URL")
    if url:
        yield url
        return
    for server in _running(RedisServer):
        yield server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis server of this test's own, which it may stop and start again."""
    yield from _running(RedisServer)


@pytest.fixture(scope="session")
def postgresql_server_url() -> Iterator[str]:
    url = _configured("CONNECTOR_SDK_TEST_POSTGRESQL_URL")
    if url:
        yield url
        return
    for server in _running(PostgresServer):
        yield server.url


@pytest.fixture
def postgresql_url(postgresql_server_url: str) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    import psycopg

    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(postgresql_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = postgresql_server_url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgresql_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test's own, whose data directory it may read."""
    yield from _running(PostgresServer)

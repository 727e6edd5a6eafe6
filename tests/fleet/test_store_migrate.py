"""``connector-sdk store migrate`` between the SQLite store and a real PostgreSQL, both ways."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from connector_sdk import Secret
from connector_sdk._stores.crypto import KEY_ENV, generate_key_text
from connector_sdk._stores.home import HOME_ENV
from connector_sdk._stores.postgresql import SCHEMA
from connector_sdk._stores.select import STORE_ENV, open_store
from connector_sdk._stores.sqlite import DATABASE_NAME


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != STORE_ENV}
    return {**env, HOME_ENV: str(tmp_path / "home"), KEY_ENV: generate_key_text()}


def migrate(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", "store", "migrate",
                           *args], env=environ, capture_output=True, text=True, timeout=120,
                          check=False)


def seed(environ: dict[str, str], canary: str) -> None:
    with open_store(None, environ) as store:
        store.create("shop", "shopify", {"shop": "a.myshopify.com", "secret": Secret(canary)})
        store.create("app", "twitch", {"client_id": "x", "secret": Secret(canary + "-2")})
        store.update("app", {"client_id": "y", "secret": Secret(canary + "-3")})


def sealed_sqlite(path: Path) -> dict[tuple[str, str], bytes]:
    conn = sqlite3.connect(path)
    try:
        return {(a, n): bytes(v) for a, n, v in conn.execute(
            "SELECT authentication, name, value FROM parameters WHERE kind = 'secret'")}
    finally:
        conn.close()


def sealed_postgresql(url: str) -> dict[tuple[str, str], bytes]:
    with psycopg.connect(url) as conn:
        return {(a, n): bytes(v) for a, n, v in conn.execute(
            f"SELECT authentication, name, value FROM {SCHEMA}.parameters"
            " WHERE kind = 'secret'")}


def test_sqlite_to_postgresql_and_back_copies_sealed_values_once(
    environ: dict[str, str], postgresql_url: str, tmp_path: Path, canary: str
) -> None:
    seed(environ, canary)
    first = migrate(environ, "--to", postgresql_url)
    second = migrate(environ, "--to", postgresql_url, "--format", "json")
    for result in (first, second):
        assert result.returncode == 0, result.stderr
        assert canary not in result.stdout + result.stderr
    assert "copied 2 authentication(s): app, shop" in first.stdout
    report = json.loads(second.stdout)
    assert report["copied"] == []
    assert report["identical"] == ["app", "shop"]
    assert "skipped 2 already in the destination" in migrate(
        environ, "--to", postgresql_url).stdout
    home_db = Path(environ[HOME_ENV]) / DATABASE_NAME
    # byte for byte: the sealed values were moved, never opened and sealed again
    assert sealed_postgresql(postgresql_url) == sealed_sqlite(home_db)
    with open_store(postgresql_url, environ) as store:
        app = store.get("app")
        assert app.version == 2
        assert app.parameters["secret"].reveal() == canary + "-3"
        assert app.parameters["client_id"] == "y"
        assert store.get("shop").parameters["secret"].reveal() == canary

    back = tmp_path / "back" / "authentications.db"
    again = migrate(environ, "--from", postgresql_url, "--to", f"sqlite://{back}")
    assert again.returncode == 0, again.stderr
    assert "copied 2" in again.stdout
    assert sealed_sqlite(back) == sealed_sqlite(home_db)
    with open_store(f"sqlite://{back}", environ) as store:
        assert store.get("shop").parameters["secret"].reveal() == canary
        assert store.get("app").updated_at == app.updated_at
    idem = migrate(environ, "--from", postgresql_url, "--to", f"sqlite://{back}")
    assert "copied 0" in idem.stdout
    assert "skipped 2" in idem.stdout


def test_a_different_record_in_the_destination_is_never_overwritten(
    environ: dict[str, str], postgresql_url: str, canary: str
) -> None:
    seed(environ, canary)
    with open_store(postgresql_url, environ) as store:
        store.create("shop", "shopify", {"secret": Secret("theirs")})
    result = migrate(environ, "--to", postgresql_url)
    assert result.returncode == 1
    assert "copied 1 authentication(s): app" in result.stdout
    assert "skipped 'shop': the destination has its own 'shop'" in result.stderr
    with open_store(postgresql_url, environ) as store:
        assert store.get("shop").parameters["secret"].reveal() == "theirs"
    assert canary not in result.stdout + result.stderr


def test_the_source_as_destination_and_an_unknown_url_are_refused(
    environ: dict[str, str], canary: str
) -> None:
    same = migrate(environ, "--to", "sqlite:")
    assert same.returncode == 2
    assert "is the store the authentications come from" in same.stderr
    unknown = migrate(environ, "--to", f"mysql://root:{canary}@db/x")
    assert unknown.returncode == 1
    assert "names no kind of store" in unknown.stderr
    assert canary not in unknown.stderr
    assert "Traceback" not in unknown.stderr

"""The PostgreSQL store on a real server: round trip, encryption proven on the server's own
bytes, writers in several processes, schema migrations, and the errors a user meets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from servers import PostgresServer, free_port

from connector_sdk import Runtime, Secret
from connector_sdk._errors import (
    AuthenticationConflict,
    AuthenticationExists,
    AuthenticationNotFound,
    SecretKeyError,
    StoreError,
)
from connector_sdk._stores.crypto import KEY_ENV, SecretCipher, generate_key_text
from connector_sdk._stores.postgresql import (
    _MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    PostgreSQLStore,
)
from connector_sdk._stores.select import STORE_ENV, open_store

WORKER = Path(__file__).with_name("_pg_worker.py")


@pytest.fixture
def key() -> str:
    return generate_key_text()


def cipher(key: str) -> SecretCipher:
    from connector_sdk._stores.crypto import _decode_key_text

    raw = _decode_key_text(key)
    assert raw is not None
    return SecretCipher(raw, origin=KEY_ENV)


def test_round_trip(postgresql_url: str, key: str, canary: str) -> None:
    with PostgreSQLStore(postgresql_url, cipher(key)) as store:
        created = store.create("shop", "shopify", {"client_id": "id", "client_secret":
                                                   Secret(canary), "retries": 3})
        assert created.version == 1
        got = store.get("shop")
        assert got == created
        assert got.parameters["client_secret"].reveal() == canary
        assert got.parameters["retries"] == 3
        store.create("another", "twitch", {"client_secret": Secret(canary + "2")})
        assert [r.name for r in store.list()] == ["another", "shop"]
        updated = store.update("shop", {"client_secret": Secret(canary + "-new"), "flag": True},
                               expected_version=1)
        assert updated.version == 2
        assert store.get("shop") == updated
        assert "retries" not in store.get("shop").parameters
        with pytest.raises(AuthenticationConflict, match="version 2"):
            store.update("shop", {"flag": False}, expected_version=1)
        with pytest.raises(AuthenticationExists):
            store.create("shop", "shopify", {})
        store.delete("shop")
        with pytest.raises(AuthenticationNotFound):
            store.get("shop")
        assert canary not in repr(store.list()) + store.describe()
    with PostgreSQLStore(postgresql_url, cipher(key)) as again:  # another process's view
        assert [r.name for r in again.list()] == ["another"]


def test_the_servers_bytes_never_hold_a_secret(
    own_postgres: PostgresServer, key: str, canary: str
) -> None:
    with PostgreSQLStore(own_postgres.url, cipher(key)) as store:
        store.create("shop", "shopify", {"client_id": "plain-marker", "client_secret":
                                         Secret(canary)})
        store.update("shop", {"client_id": "plain-marker", "client_secret": Secret(canary)})
    with psycopg.connect(own_postgres.url, autocommit=True) as conn:
        raw = conn.execute(f"SELECT value FROM {SCHEMA}.parameters").fetchall()
        conn.execute("CHECKPOINT")  # the heap files on disk, not only the WAL
    values = b"".join(bytes(value) for (value,) in raw)
    pg_dump = Path(subprocess.run(["bash", "-c", "command -v pg_dump || ls "
                                   "/usr/lib/postgresql/*/bin/pg_dump | tail -1"],
                                  capture_output=True, text=True, check=False).stdout.strip())
    dump = subprocess.run([str(pg_dump), "--dbname", own_postgres.url, "--data-only"],
                          capture_output=True, check=True, timeout=120).stdout
    files = b"".join(path.read_bytes() for path in (own_postgres.directory / "data").rglob("*")
                     if path.is_file())
    for where, data in (("column values", values), ("pg_dump", dump), ("data files", files)):
        # pg_dump writes bytea as hex; the search must find a clear value in either form
        marker = b"plain-marker" in data or b"plain-marker".hex().encode() in data
        leaked = canary.encode() in data or canary.encode().hex().encode() in data
        assert marker, f"the clear marker is not found in the {where}: the search is blind"
        assert not leaked, f"the secret is in clear in the {where}"


def test_concurrent_writers_in_several_processes_lose_nothing(
    postgresql_url: str, key: str, canary: str
) -> None:
    workers, increments = 6, 15
    with PostgreSQLStore(postgresql_url, cipher(key)) as store:
        store.create("shared", "svc", {"count": 0, "key": Secret(canary)})
    env = {**os.environ, KEY_ENV: key, "PG_TEST_SECRET": canary}
    processes = [subprocess.Popen([sys.executable, str(WORKER), postgresql_url,
                                   str(increments), str(n)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for n in range(workers)]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-2000:]
        assert canary not in out + err
    conflicts = sum(int(out.strip().rpartition("=")[2]) for out, _ in outputs)
    print(f"{workers} writers x {increments} increments: {conflicts} conflicts, retried")
    with PostgreSQLStore(postgresql_url, cipher(key)) as store:
        shared = store.get("shared")
        assert shared.parameters["count"] == workers * increments
        assert shared.version == 1 + workers * increments
        records = {r.name: r for r in store.list()}
        assert len(records) == 1 + workers * increments
        for n in range(workers):
            for i in range(increments):
                secret = records[f"w{n}-{i}"].parameters["key"]
                assert secret.reveal() == f"{canary}-{n}-{i}"


def test_a_store_of_an_older_schema_version_is_migrated(
    postgresql_url: str, key: str, canary: str
) -> None:
    sealed = cipher(key).encrypt(Secret(canary), authentication="old", parameter="key")
    with psycopg.connect(postgresql_url) as conn:  # what the version 1 code left behind
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"SET search_path TO {SCHEMA}")
        conn.execute("CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1),"
                     " version INTEGER NOT NULL)")
        for statement in _MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, 1)")
        conn.execute("INSERT INTO authentications VALUES ('old', 'svc', 3, 't0', 't1')")
        conn.execute("INSERT INTO parameters VALUES ('old', 'key', 'secret', %s),"
                     " ('old', 'region', 'json', %s)", (sealed, b'"eu"'))
    with PostgreSQLStore(postgresql_url, cipher(key)) as store:
        record = store.get("old")
        assert record.version == 3
        assert record.parameters["key"].reveal() == canary
        assert record.parameters["region"] == "eu"
        assert "sealed none" not in store.describe()
    with psycopg.connect(postgresql_url) as conn:
        (version,) = conn.execute(f"SELECT version FROM {SCHEMA}.schema_version").fetchone()
        keys = conn.execute(f"SELECT key_id FROM {SCHEMA}.secret_keys").fetchall()
    assert version == SCHEMA_VERSION
    assert [bytes(k) for (k,) in keys] == [cipher(key).key_id]  # filled from the old rows
    with PostgreSQLStore(postgresql_url, cipher(generate_key_text())) as wrong:
        assert "sealed none of the secrets in this store" in wrong.describe()
        with pytest.raises(SecretKeyError):
            wrong.get("old").parameters["key"].reveal()


def test_a_store_written_by_a_newer_version_is_refused(postgresql_url: str, key: str) -> None:
    PostgreSQLStore(postgresql_url, cipher(key)).close()
    with psycopg.connect(postgresql_url) as conn:
        conn.execute(f"UPDATE {SCHEMA}.schema_version SET version = 99")
    with pytest.raises(StoreError, match="newer connector-sdk"):
        PostgreSQLStore(postgresql_url, cipher(key))


def test_workers_opening_a_new_store_together_migrate_it_once(
    postgresql_url: str, key: str
) -> None:
    env = {**os.environ, KEY_ENV: key}
    code = ("import sys; from connector_sdk._stores.select import open_store; "
            "open_store(sys.argv[1]).close()")
    processes = [subprocess.Popen([sys.executable, "-c", code, postgresql_url], env=env,
                                  stderr=subprocess.PIPE, text=True) for _ in range(5)]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]


def test_an_unreachable_server_is_a_clear_error_without_the_password(
    key: str, canary: str
) -> None:
    url = f"postgresql://fleet:{canary}@127.0.0.1:{free_port()}/auth"
    with pytest.raises(StoreError) as info:
        PostgreSQLStore(url, cipher(key), timeout=3)
    message = str(info.value)
    assert "postgresql://fleet@127.0.0.1:" in message
    assert "check that the server is running" in message
    assert canary not in message


def test_a_missing_database_and_a_bad_password_say_how_to_fix_them(
    postgresql_server_url: str, key: str, canary: str
) -> None:
    base = postgresql_server_url.rpartition("/")[0]
    with pytest.raises(StoreError, match="create the database first"):
        PostgreSQLStore(f"{base}/no_such_database", cipher(key))
    with psycopg.connect(postgresql_server_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS nopriv")
        conn.execute("CREATE ROLE nopriv LOGIN")
    limited = base.replace("connector@", "nopriv@") + "/postgres"
    with pytest.raises(StoreError, match="right to create the schema") as info:
        PostgreSQLStore(limited.replace("nopriv@", f"nopriv:{canary}@"), cipher(key))
    assert canary not in str(info.value)


def test_the_store_is_chosen_by_the_environment_and_needs_the_fleet_key(
    postgresql_url: str, key: str, tmp_path: Path, canary: str
) -> None:
    environ: dict[str, Any] = {STORE_ENV: postgresql_url, "CONNECTOR_SDK_HOME":
                               str(tmp_path / "home")}
    with pytest.raises(SecretKeyError, match="same key on every worker"):
        open_store(postgresql_url, environ)
    environ[KEY_ENV] = key
    with Runtime(environ=environ, extra_plugins={}) as runtime:
        assert "PostgreSQL store at postgresql://connector@" in runtime.store.describe()
        runtime.store.create("x", "svc", {"s": Secret(canary)})
    assert not (tmp_path / "home" / "authentications.db").exists()
    result = subprocess.run([sys.executable, "-m", "connector_sdk.cli", "auth", "list"],
                            env={**os.environ, **environ}, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "x " in result.stdout
    assert canary not in result.stdout + result.stderr

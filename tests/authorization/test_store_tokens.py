"""The store's part of the authorization-code grant, on SQLite and on a real PostgreSQL:
sealed tokens beside the parameters, compare-and-set rotation, pending authorizations taken
once across processes, leases, and the migration of an existing store."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector_sdk import Secret
from connector_sdk._errors import AuthenticationConflict
from connector_sdk._stores.select import open_store
from connector_sdk._stores.sqlite import SQLiteStore

from .conftest import cipher_of


def _open(url: str, key_text: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"CONNECTOR_SDK_SECRET_KEY": key_text, "CONNECTOR_SDK_HOME": str(tmp_path / "home")}
    return open_store(url, env, home=tmp_path / "home")


def test_tokens_are_sealed_beside_the_record_and_rotated_by_version(
    store_url: str, key_text: str, tmp_path: Path, canary: str
) -> None:
    with _open(store_url, key_text, tmp_path) as store:
        created = store.create("shop", "shopify", {"client_id": "id"},
                               grant="authorization_code", tokens=Secret(f'{{"a":"{canary}"}}'))
        assert (created.grant, created.status, created.version) == (
            "authorization_code", "active", 1)
        assert canary not in repr(created)
        got = store.get("shop")
        assert got.tokens is not None and canary in got.tokens.reveal()
        assert "tokens" not in got.parameters
        rotated = store.update_tokens("shop", Secret('{"a":"new"}'), expected_version=1)
        assert rotated.version == 2 and rotated.tokens is not None
        assert rotated.tokens.reveal() == '{"a":"new"}'
        with pytest.raises(AuthenticationConflict, match="version 2"):
            store.update_tokens("shop", Secret('{"a":"lost"}'), expected_version=1)
        marked = store.update_tokens("shop", rotated.tokens, expected_version=2,
                                     status="needs_reconsent")
        assert marked.status == "needs_reconsent" and marked.version == 3
        assert store.get("shop").tokens.reveal() == '{"a":"new"}'  # type: ignore[union-attr]
        # an update of the parameters keeps grant, status and tokens
        kept = store.update("shop", {"client_id": "id2"}, expected_version=3)
        assert (kept.grant, kept.status) == ("authorization_code", "needs_reconsent")
        assert kept.tokens is not None and kept.tokens.reveal() == '{"a":"new"}'
        plain = store.create("cc", "twitch", {"client_id": "x"})
        assert (plain.grant, plain.status, plain.tokens) == ("client_credentials", "active",
                                                            None)


def test_a_pending_authorization_is_taken_once(
    store_url: str, key_text: str, tmp_path: Path, canary: str
) -> None:
    now = time.time()
    with _open(store_url, key_text, tmp_path) as store:
        store.put_pending("state-1", Secret(canary), expires_at=now + 600)
        store.put_pending("state-2", Secret("old"), expires_at=now - 1)
        first = store.take_pending("state-1", now=now)
        assert first.found and first.payload is not None and first.payload.reveal() == canary
        assert store.take_pending("state-1", now=now).outcome == "replayed"
        assert store.take_pending("state-2", now=now).outcome == "expired"
        assert store.take_pending("never-issued", now=now).outcome == "unknown"


def test_the_state_and_payload_are_not_in_the_database_in_clear(
    tmp_path: Path, key_text: str, canary: str
) -> None:
    path = tmp_path / "db" / "authentications.db"
    with _open(f"sqlite://{path}", key_text, tmp_path) as store:
        store.put_pending(canary + "-state", Secret(canary), expires_at=time.time() + 60)
        store.create("a", "shopify", {"p": "v"}, grant="authorization_code",
                     tokens=Secret(canary))
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())
    assert canary.encode() not in raw


def test_a_lease_has_one_owner_until_released_or_expired(
    store_url: str, key_text: str, tmp_path: Path
) -> None:
    with _open(store_url, key_text, tmp_path) as store:
        assert store.acquire_lease("k", "one", 30)
        assert not store.acquire_lease("k", "two", 30)
        assert not store.release_lease("k", "two")
        assert store.release_lease("k", "one")
        assert store.acquire_lease("k", "two", 0.05)
        time.sleep(0.2)
        assert store.acquire_lease("k", "three", 30)  # the expired lease is replaced


_TAKER = """
import pathlib, sys, time
from connector_sdk._stores.select import open_store
env = {"CONNECTOR_SDK_SECRET_KEY": sys.argv[2]}
store = open_store(sys.argv[1], env, home=pathlib.Path(sys.argv[3]))
while time.time() < float(sys.argv[4]):
    time.sleep(0.001)
print(store.take_pending("shared", now=time.time()).outcome)
"""


def test_two_processes_taking_one_state_get_it_once(
    store_url: str, key_text: str, tmp_path: Path
) -> None:
    with _open(store_url, key_text, tmp_path) as store:
        store.put_pending("shared", Secret("payload"), expires_at=time.time() + 600)
    start = str(time.time() + 3.0)
    procs = [subprocess.Popen([sys.executable, "-c", _TAKER, store_url, key_text,
                               str(tmp_path / "home"), start], stdout=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outcomes = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert outcomes == ["found", "replayed", "replayed", "replayed"]


def test_an_existing_version_1_sqlite_store_is_migrated(tmp_path: Path, key_text: str) -> None:
    path = tmp_path / "authentications.db"
    path.touch(mode=0o600)
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER);
        INSERT INTO schema_version VALUES (1, 1);
        CREATE TABLE authentications (name TEXT PRIMARY KEY NOT NULL, service TEXT NOT NULL,
            version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)
            WITHOUT ROWID;
        CREATE TABLE parameters (authentication TEXT NOT NULL, name TEXT NOT NULL,
            kind TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (authentication, name))
            WITHOUT ROWID;
        INSERT INTO authentications VALUES ('old', 'twitch', 4, 't0', 't1');
        INSERT INTO parameters VALUES ('old', 'client_id', 'json', '"abc"');
    """)
    conn.close()
    with SQLiteStore(path, cipher_of(key_text)) as store:
        record = store.get("old")
    assert (record.grant, record.status, record.tokens, record.version) == (
        "client_credentials", "active", None, 4)
    assert record.parameters["client_id"] == "abc"


def test_an_existing_schema_2_postgresql_store_is_migrated(
    postgresql_url: str, key_text: str, tmp_path: Path
) -> None:
    import psycopg

    from connector_sdk._stores.postgresql import _MIGRATIONS, SCHEMA

    with psycopg.connect(postgresql_url, autocommit=False) as conn:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"SET search_path TO {SCHEMA}")
        conn.execute("CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1),"
                     " version INTEGER NOT NULL)")
        for version in (0, 1):
            for statement in _MIGRATIONS[version]:
                conn.execute(statement, {"now": "t"} if "%(" in statement else None)
        conn.execute("INSERT INTO schema_version VALUES (1, 2)")
        conn.execute("INSERT INTO authentications VALUES ('old', 'twitch', 3, 't0', 't1')")
        conn.execute("INSERT INTO parameters VALUES ('old', 'client_id', 'json', %s)",
                     (b'"abc"',))
        conn.commit()
    with _open(postgresql_url, key_text, tmp_path) as store:
        record = store.get("old")
        assert (record.grant, record.status, record.tokens, record.version) == (
            "client_credentials", "active", None, 3)
        assert record.parameters["client_id"] == "abc"
        store.put_pending("s", Secret("p"), expires_at=time.time() + 60)
        assert store.take_pending("s", now=time.time()).found

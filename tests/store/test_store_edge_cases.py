"""Damaged rows, masking by the manifest, and files that are not what they should be.

Every scenario works on a real SQLite file in ``tmp_path``, damaged with the ``sqlite3``
module the way a disk fault, a hand edit or an older tool would; the CLI runs as a user runs
it, in a subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from connector_sdk import Runtime, Secret
from connector_sdk._errors import SecretKeyError, StoreError
from connector_sdk._stores.codec import UnreadableValue
from connector_sdk._stores.crypto import KEY_ENV, KEY_FILE_NAME, generate_key_text
from connector_sdk._stores.home import HOME_ENV, ensure_private_dir
from connector_sdk._stores.sqlite import DATABASE_NAME, SQLiteStore, open_default_store

CLIENT_ID = "abcdefghijklmnopqrstuvwxyz0123"  # the Twitch manifest's pattern: 30 [a-z0-9]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def environ(home: Path) -> dict[str, str]:
    return {**os.environ, HOME_ENV: str(home)}


def tamper(home: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(home / DATABASE_NAME)
    with conn:
        conn.execute(sql, params)
    conn.close()


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args],
                          env=environ(home), capture_output=True, text=True, timeout=120,
                          check=False)


def create_twitch(home: Path, *names: str, secret: str) -> None:
    with Runtime(environ=environ(home)) as runtime:
        for name in names:
            runtime.create_authentication(
                "twitch", name, {"client_id": CLIENT_ID, "client_secret": secret})


def test_a_damaged_plain_row_spoils_one_value_not_the_listing(home: Path, canary: str) -> None:
    with open_default_store(environ(home)) as store:
        store.create("good", "svc", {"region": "eu", "key": Secret(canary)})
        store.create("bad", "svc", {"region": "us", "key": Secret(canary)})
    tamper(home, "UPDATE parameters SET value = '{not json' WHERE authentication = 'bad'"
                 " AND name = 'region'")
    with open_default_store(environ(home)) as store:
        records = {record.name: record for record in store.list()}
        assert set(records) == {"bad", "good"}
        assert records["good"].parameters["region"] == "eu"
        assert records["bad"].parameters["key"].reveal() == canary  # the rest still reads
        damaged = store.get("bad").parameters["region"]
        assert isinstance(damaged, UnreadableValue)
        assert canary not in repr(damaged)
        with pytest.raises(StoreError, match=r"parameter 'region' of authentication 'bad'.*"
                                             r"damaged.*delete the authentication"):
            damaged.reveal()
        store.delete("bad")
        assert [record.name for record in store.list()] == ["good"]


@pytest.mark.parametrize(
    ("column", "value"),
    [("value", b"\xff\xfe not text"), ("value", '["a", "list"]'), ("kind", "mystery"),
     ("value", "[" * 100_000)],
)
def test_every_kind_of_row_damage_reads_as_one_unreadable_value(
    tmp_path: Path, column: str, value: object
) -> None:
    home = ensure_private_dir(tmp_path / "home")
    with open_default_store({HOME_ENV: str(home)}) as store:
        store.create("one", "svc", {"region": "eu", "other": 1})
    conn = sqlite3.connect(home / DATABASE_NAME)
    with conn:  # dropping the CHECK constraint is what a hand edit or another tool could do
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_schema SET sql = replace(sql, "
                     "'CHECK (kind IN (''json'', ''secret''))', '') WHERE name = 'parameters'")
    conn.close()
    conn = sqlite3.connect(home / DATABASE_NAME)
    with conn:
        conn.execute(f"UPDATE parameters SET {column} = ? WHERE name = 'region'", (value,))
    conn.close()
    with open_default_store({HOME_ENV: str(home)}) as store:
        (record,) = store.list()
        assert isinstance(record.parameters["region"], UnreadableValue)
        assert record.parameters["other"] == 1


def test_auth_list_show_and_delete_work_on_a_damaged_record(home: Path, canary: str) -> None:
    create_twitch(home, "good", "bad", secret=canary)
    tamper(home, "UPDATE parameters SET value = 'garbage' WHERE authentication = 'bad'"
                 " AND name = 'client_id'")
    listed = cli(home, "auth", "list")
    assert listed.returncode == 0, listed.stderr
    assert "good" in listed.stdout
    assert "bad" in listed.stdout
    assert "unreadable: client_id" in listed.stdout
    as_json = cli(home, "auth", "list", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    views = {view["name"]: view for view in json.loads(as_json.stdout)["authentications"]}
    assert "damaged" in views["bad"]["unreadable"]["client_id"]
    shown = cli(home, "auth", "show", "bad")
    assert shown.returncode == 0, shown.stderr
    assert "damaged" in shown.stderr
    deleted = cli(home, "auth", "delete", "bad")
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted authentication 'bad'" in deleted.stdout
    for result in (listed, as_json, shown, deleted):
        assert canary not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    with open_default_store(environ(home)) as store:
        assert [record.name for record in store.list()] == ["good"]


def test_a_secret_stored_in_clear_is_masked_because_the_manifest_says_secret(
    home: Path, canary: str
) -> None:
    create_twitch(home, "app", secret="the-real-one")
    # an older tool, or a hand edit, wrote the secret as a plain JSON row
    tamper(home, "UPDATE parameters SET kind = 'json', value = ? WHERE name = 'client_secret'",
           json.dumps(canary))
    for args in (("auth", "show", "app"), ("auth", "show", "app", "--format", "json"),
                 ("auth", "list", "--format", "json")):
        result = cli(home, *args)
        assert result.returncode == 0, result.stderr
        assert canary not in result.stdout + result.stderr
        assert "**********" in result.stdout


def test_values_of_a_service_that_is_not_installed_are_all_masked(
    home: Path, canary: str
) -> None:
    with open_default_store(environ(home)) as store:
        store.create("orphan", "not-installed", {"token": canary, "region": "eu"})
    result = cli(home, "auth", "show", "orphan", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["parameters"] == {"region": "**********",
                                                       "token": "**********"}


def test_a_key_file_that_is_a_directory_is_a_clear_error(home: Path) -> None:
    ensure_private_dir(home)
    (home / KEY_FILE_NAME).mkdir()
    with pytest.raises(SecretKeyError, match="is a directory, not a key") as info:
        open_default_store({HOME_ENV: str(home)})
    assert KEY_ENV in str(info.value)
    result = cli(home, "auth", "list")
    assert result.returncode == 1
    assert "is a directory, not a key" in result.stderr
    assert "internal error" not in result.stderr
    assert (home / KEY_FILE_NAME).is_dir(), "nothing may be replaced behind the user's back"


def test_an_empty_database_next_to_an_existing_key_is_refused(home: Path, canary: str) -> None:
    with open_default_store({HOME_ENV: str(home)}) as store:
        store.create("shop", "svc", {"key": Secret(canary)})
    for suffix in ("", "-wal", "-shm"):
        path = home / (DATABASE_NAME + suffix)
        if path.exists():
            path.write_bytes(b"")  # truncated, as a full disk or a bad copy leaves it
    with pytest.raises(StoreError, match=r"is empty \(0 bytes\) while the key file") as info:
        open_default_store({HOME_ENV: str(home)})
    assert "restore it from a backup" in str(info.value)
    assert (home / DATABASE_NAME).stat().st_size == 0, "the empty file must not be reused"
    result = cli(home, "auth", "list")
    assert result.returncode == 1
    assert "is empty (0 bytes)" in result.stderr


def test_an_empty_database_with_the_key_in_the_environment_is_refused_too(
    tmp_path: Path
) -> None:
    home = ensure_private_dir(tmp_path / "home")
    fd = os.open(home / DATABASE_NAME, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    with pytest.raises(StoreError, match=r"is empty \(0 bytes\): connector-sdk always"):
        open_default_store({HOME_ENV: str(home), KEY_ENV: generate_key_text()})


def test_a_new_store_is_published_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    home = ensure_private_dir(tmp_path / "home")
    with open_default_store({HOME_ENV: str(home)}) as store:
        assert isinstance(store, SQLiteStore)
        assert (home / DATABASE_NAME).stat().st_size > 0
    assert sorted(path.name for path in home.iterdir() if path.name.startswith(".")) == []


def test_a_database_path_that_is_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    home = ensure_private_dir(tmp_path / "home")
    (home / DATABASE_NAME).mkdir()
    with pytest.raises(StoreError, match="not a regular file"):
        open_default_store({HOME_ENV: str(home)})


def test_a_damaged_version_column_still_lists_and_deletes(home: Path) -> None:
    with open_default_store({HOME_ENV: str(home)}) as store:
        store.create("one", "svc", {"region": "eu"})
    tamper(home, "UPDATE authentications SET version = 'x'")
    with open_default_store({HOME_ENV: str(home)}) as store:
        assert [record.name for record in store.list()] == ["one"]
        store.delete("one")
        assert store.list() == []

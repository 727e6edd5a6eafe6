"""SQLiteStore and open_default_store: round trips, encryption at rest, permissions, errors."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector_sdk._errors import (
    AuthenticationExists,
    AuthenticationNotFound,
    SecretKeyError,
    StoreError,
)
from connector_sdk._secrets import Secret
from connector_sdk._stores.crypto import KEY_ENV, KEY_FILE_NAME, SecretCipher, generate_key_text
from connector_sdk._stores.home import HOME_ENV, ensure_private_dir, sdk_home
from connector_sdk._stores.sqlite import (
    DATABASE_NAME,
    AuthenticationStore,
    SQLiteStore,
    open_default_store,
)


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """An environment with a fresh home and no key variable (the key file is used)."""
    return {HOME_ENV: str(tmp_path / "home")}


@pytest.fixture
def store(environ: dict[str, str]) -> Iterator[SQLiteStore]:
    with open_default_store(environ) as opened:
        yield opened


def shop_params(secret: str, **extra: Any) -> dict[str, Any]:
    return {
        "shopify_url": "example.myshopify.com",
        "client_id": "plain-client-id-marker",
        "client_secret": Secret(secret),
        **extra,
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_create_get_list_update_delete(store: SQLiteStore, canary: str) -> None:
    created = store.create("shop", "shopify", shop_params(canary, retries=3, ratio=0.5))
    assert created.version == 1
    assert created.created_at == created.updated_at
    assert created.created_at.endswith("Z")

    got = store.get("shop")
    assert got == created
    assert got.service == "shopify"
    assert got.parameters["client_secret"].reveal() == canary
    assert got.parameters["retries"] == 3
    assert got.parameters["ratio"] == 0.5

    store.create("another", "twitch", {"client_id": "x", "client_secret": Secret(canary + "2")})
    assert [record.name for record in store.list()] == ["another", "shop"]

    updated = store.update("shop", shop_params(canary + "-new", flag=True, empty=None))
    assert updated.version == 2
    assert updated.created_at == created.created_at
    assert updated.updated_at > created.updated_at
    again = store.get("shop")
    assert again == updated
    assert again.parameters["client_secret"].reveal() == canary + "-new"
    assert again.parameters["flag"] is True
    assert again.parameters["empty"] is None
    assert "retries" not in again.parameters  # update replaces the parameters whole

    store.delete("shop")
    with pytest.raises(AuthenticationNotFound) as info:
        store.get("shop")
    assert info.value.name == "shop"
    assert [record.name for record in store.list()] == ["another"]


def test_record_repr_and_exceptions_do_not_show_secrets(store: SQLiteStore, canary: str) -> None:
    record = store.create("shop", "shopify", shop_params(canary))
    assert canary not in repr(record)
    assert canary not in repr(store.list())
    assert canary not in store.describe()
    with pytest.raises(AuthenticationExists) as info:
        store.create("shop", "shopify", shop_params(canary))
    assert canary not in str(info.value)
    assert "'shop'" in str(info.value)


def test_records_are_read_only(store: SQLiteStore, canary: str) -> None:
    record = store.create("shop", "shopify", shop_params(canary))
    with pytest.raises(TypeError):
        record.parameters["client_id"] = "changed"  # type: ignore[index]


def test_store_files_never_contain_a_clear_secret(
    store: SQLiteStore, environ: dict[str, str], canary: str
) -> None:
    store.create("shop", "shopify", shop_params(canary))
    store.update("shop", shop_params(canary))
    home = Path(environ[HOME_ENV])
    db = home / DATABASE_NAME

    def stored_bytes() -> bytes:
        return b"".join(
            path.read_bytes() for path in home.iterdir() if path.name.startswith(DATABASE_NAME)
        )

    written = stored_bytes()
    assert (home / (DATABASE_NAME + "-wal")).exists()
    assert b"plain-client-id-marker" in written  # the search would find a clear value
    assert canary.encode() not in written
    store.close()
    after_close = stored_bytes()
    assert b"plain-client-id-marker" in db.read_bytes()
    assert canary.encode() not in after_close


def test_home_database_and_key_file_are_owner_only(
    store: SQLiteStore, environ: dict[str, str], canary: str
) -> None:
    store.create("shop", "shopify", shop_params(canary))
    home = Path(environ[HOME_ENV])
    assert mode(home) == 0o700
    assert mode(home / KEY_FILE_NAME) == 0o600
    files = [path for path in home.iterdir() if path.name.startswith(DATABASE_NAME)]
    assert {path.name for path in files} >= {DATABASE_NAME, DATABASE_NAME + "-wal"}
    for path in files:
        assert mode(path) == 0o600, path.name


def test_home_open_to_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    with pytest.raises(StoreError, match=r"chmod 700") as info:
        open_default_store({HOME_ENV: str(home)})
    assert str(home) in str(info.value)
    assert mode(home) == 0o755  # refused, not changed behind the user's back
    assert not (home / KEY_FILE_NAME).exists()


def test_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "home"
    path.write_text("")
    with pytest.raises(StoreError, match="not a directory"):
        ensure_private_dir(path)


def test_database_open_to_others_is_refused(tmp_path: Path) -> None:
    home = ensure_private_dir(tmp_path / "home")
    db = home / DATABASE_NAME
    db.touch(mode=0o644)
    db.chmod(0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        SQLiteStore(db, SecretCipher(os.urandom(32)))


def test_home_defaults_to_dot_connector_sdk_and_follows_the_variable(tmp_path: Path) -> None:
    assert sdk_home({}) == Path.home() / ".connector-sdk"
    assert sdk_home({HOME_ENV: ""}) == Path.home() / ".connector-sdk"
    assert sdk_home({HOME_ENV: str(tmp_path)}) == tmp_path
    assert sdk_home({HOME_ENV: "~/x"}) == Path.home() / "x"


def test_wrong_key_is_reported_when_the_secret_is_used_and_delete_still_works(
    tmp_path: Path, canary: str
) -> None:
    home = str(tmp_path / "home")
    with open_default_store({HOME_ENV: home, KEY_ENV: generate_key_text()}) as store:
        store.create("shop", "shopify", shop_params(canary))
    with open_default_store({HOME_ENV: home, KEY_ENV: generate_key_text()}) as store:
        record = store.get("shop")  # readable: list, show and delete work with a wrong key
        assert [r.name for r in store.list()] == ["shop"]
        with pytest.raises(SecretKeyError) as info:
            record.parameters["client_secret"].reveal()  # using the secret says why it fails
        store.delete("shop")
        assert store.list() == []
    message = str(info.value)
    assert "'shop'" in message
    assert "does not match the one the store was written with" in message
    assert f"set {KEY_ENV} to the original key" in message
    assert canary not in message


def test_key_variable_overrides_the_key_file(tmp_path: Path, canary: str) -> None:
    home = tmp_path / "home"
    key = generate_key_text()
    with open_default_store({HOME_ENV: str(home), KEY_ENV: key}) as store:
        store.create("shop", "shopify", shop_params(canary))
        assert KEY_ENV in store.describe()
    assert not (home / KEY_FILE_NAME).exists()
    with open_default_store({HOME_ENV: str(home), KEY_ENV: key}) as store:
        assert store.get("shop").parameters["client_secret"].reveal() == canary


def test_lost_key_file_is_reported_instead_of_replaced(
    store: SQLiteStore, environ: dict[str, str], canary: str
) -> None:
    store.create("shop", "shopify", shop_params(canary))
    store.close()
    key_file = Path(environ[HOME_ENV]) / KEY_FILE_NAME
    key_file.unlink()
    with pytest.raises(SecretKeyError, match="missing"):
        open_default_store(environ)
    assert not key_file.exists()


def test_secrets_swapped_between_records_fail_to_decrypt(
    store: SQLiteStore, environ: dict[str, str], make_canary: Any
) -> None:
    first, second = make_canary(), make_canary()
    store.create("one", "shopify", shop_params(first))
    store.create("two", "shopify", shop_params(second))
    conn = sqlite3.connect(Path(environ[HOME_ENV]) / DATABASE_NAME)
    with conn:
        rows = dict(
            conn.execute(
                "SELECT authentication, value FROM parameters WHERE name = 'client_secret'"
            ).fetchall()
        )
        for name, other in (("one", "two"), ("two", "one")):
            conn.execute(
                "UPDATE parameters SET value = ? WHERE authentication = ? AND name = ?",
                (rows[other], name, "client_secret"),
            )
    conn.close()
    for name in ("one", "two"):
        secret = store.get(name).parameters["client_secret"]
        with pytest.raises(StoreError, match="integrity check") as info:
            secret.reveal()
        assert f"'{name}'" in str(info.value)
    assert [r.name for r in store.list()] == ["one", "two"]  # still listed, never revealed


def test_secret_moved_to_another_parameter_fails_to_decrypt(
    store: SQLiteStore, environ: dict[str, str], canary: str
) -> None:
    store.create("one", "svc", {"a": Secret(canary), "b": Secret("other")})
    conn = sqlite3.connect(Path(environ[HOME_ENV]) / DATABASE_NAME)
    with conn:
        (blob,) = conn.execute("SELECT value FROM parameters WHERE name = 'a'").fetchone()
        conn.execute("UPDATE parameters SET value = ? WHERE name = 'b'", (blob,))
    conn.close()
    with pytest.raises(StoreError, match="parameter 'b'"):
        store.get("one").parameters["b"].reveal()


def test_create_existing_and_missing_names_raise_named_errors(
    store: SQLiteStore, canary: str
) -> None:
    store.create("shop", "shopify", shop_params(canary))
    with pytest.raises(AuthenticationExists) as exists:
        store.create("shop", "shopify", shop_params(canary))
    assert exists.value.name == "shop"
    for action in (
        lambda: store.get("nope"),
        lambda: store.update("nope", {}),
        lambda: store.delete("nope"),
    ):
        with pytest.raises(AuthenticationNotFound, match="'nope'"):
            action()


def test_update_with_a_stale_version_is_refused(store: SQLiteStore, canary: str) -> None:
    store.create("shop", "shopify", shop_params(canary))
    store.update("shop", shop_params(canary), expected_version=1)
    with pytest.raises(StoreError, match="changed by someone else") as info:
        store.update("shop", shop_params(canary + "-lost"), expected_version=1)
    assert "version 2" in str(info.value)
    assert store.get("shop").parameters["client_secret"].reveal() == canary


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("x" * 201, "at most 200"),
        ("bad\nname", "non-printable"),
        ("tab\tname", "non-printable"),
        (" padded", "whitespace"),
    ],
)
def test_bad_names_are_refused_with_the_reason(
    store: SQLiteStore, name: str, reason: str
) -> None:
    with pytest.raises(StoreError, match=reason):
        store.create(name, "svc", {})
    assert store.list() == []


def test_longest_and_unicode_names_are_accepted(store: SQLiteStore) -> None:
    for name in ("x" * 200, "boutique-été", "a/b:c"):
        store.create(name, "svc", {})
        assert store.get(name).name == name


@pytest.mark.parametrize(
    "value", [b"bytes", ["a", "list"], {"a": "dict"}, float("nan"), object()]
)
def test_values_that_are_neither_secret_nor_json_scalar_are_refused(
    store: SQLiteStore, value: Any
) -> None:
    with pytest.raises(StoreError, match="parameter 'p' of authentication 'shop'"):
        store.create("shop", "svc", {"p": value})
    assert store.list() == []


def test_closed_store_says_so(environ: dict[str, str]) -> None:
    store = open_default_store(environ)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.list()


def test_store_written_by_a_newer_schema_is_refused(
    store: SQLiteStore, environ: dict[str, str]
) -> None:
    store.close()
    conn = sqlite3.connect(Path(environ[HOME_ENV]) / DATABASE_NAME)
    with conn:
        conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer connector-sdk"):
        open_default_store(environ)


def test_sqlite_store_satisfies_the_protocol(store: SQLiteStore) -> None:
    assert isinstance(store, AuthenticationStore)
    assert "SQLite store at" in store.describe()


def test_one_store_shared_by_threads(store: SQLiteStore, canary: str) -> None:
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for i in range(20):
                name = f"t{thread}-{i}"
                store.create(name, "svc", {"s": Secret(f"{canary}{name}")})
                assert store.get(name).parameters["s"].reveal() == f"{canary}{name}"
                store.list()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(store.list()) == 80


def test_two_stores_on_one_file_see_each_others_writes(
    environ: dict[str, str], canary: str
) -> None:
    with open_default_store(environ) as first, open_default_store(environ) as second:
        first.create("shop", "shopify", shop_params(canary))
        assert second.get("shop").parameters["client_secret"].reveal() == canary
        second.delete("shop")
        assert first.list() == []


def test_explicit_home_wins_over_the_variable(tmp_path: Path, canary: str) -> None:
    chosen = tmp_path / "chosen"
    with open_default_store({HOME_ENV: str(tmp_path / "ignored")}, home=chosen) as store:
        store.create("shop", "shopify", shop_params(canary))
    assert (chosen / DATABASE_NAME).exists()
    assert not (tmp_path / "ignored").exists()

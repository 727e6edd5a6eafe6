"""SecretCipher (AES-256-GCM, bound to authentication and parameter) and key loading."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest

from connector_sdk._errors import SecretKeyError, StoreError
from connector_sdk._secrets import Secret
from connector_sdk._stores.crypto import (
    KEY_ENV,
    KEY_FILE_NAME,
    SecretCipher,
    _create_key_file,
    generate_key_text,
    load_secret_key,
)
from connector_sdk._stores.home import ensure_private_dir


def new_cipher() -> SecretCipher:
    return SecretCipher(os.urandom(32))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return ensure_private_dir(tmp_path / "home")


def test_sealed_value_opens_to_the_same_secret(canary: str) -> None:
    cipher = new_cipher()
    blob = cipher.encrypt(Secret(canary), authentication="shop", parameter="client_secret")
    opened = cipher.decrypt(blob, authentication="shop", parameter="client_secret")
    assert isinstance(opened, Secret)
    assert opened.reveal() == canary
    assert canary.encode() not in blob


def test_sealing_twice_gives_different_bytes(canary: str) -> None:
    cipher = new_cipher()
    first = cipher.encrypt(canary, authentication="a", parameter="p")
    second = cipher.encrypt(canary, authentication="a", parameter="p")
    assert first != second
    assert first[1:9] == second[1:9] == cipher.key_id  # same key id, different nonces


@pytest.mark.parametrize(
    ("authentication", "parameter"),
    [("other-shop", "client_secret"), ("shop", "client_id"), ("shopc", "lient_secret")],
)
def test_value_moved_to_another_record_or_field_fails_to_open(
    canary: str, authentication: str, parameter: str
) -> None:
    cipher = new_cipher()
    blob = cipher.encrypt(canary, authentication="shop", parameter="client_secret")
    with pytest.raises(StoreError, match="integrity check") as info:
        cipher.decrypt(blob, authentication=authentication, parameter=parameter)
    assert not isinstance(info.value, SecretKeyError)
    assert canary not in str(info.value)


def test_tampered_or_truncated_value_is_a_store_error(canary: str) -> None:
    cipher = new_cipher()
    blob = bytearray(cipher.encrypt(canary, authentication="a", parameter="p"))
    blob[-1] ^= 1
    with pytest.raises(StoreError, match="integrity check"):
        cipher.decrypt(bytes(blob), authentication="a", parameter="p")
    with pytest.raises(StoreError, match="damaged"):
        cipher.decrypt(bytes(blob[:20]), authentication="a", parameter="p")


def test_other_key_is_a_secret_key_error_naming_the_authentication_and_the_fix(
    canary: str,
) -> None:
    blob = new_cipher().encrypt(canary, authentication="shop", parameter="client_secret")
    other = SecretCipher(os.urandom(32), origin=KEY_ENV)
    with pytest.raises(SecretKeyError) as info:
        other.decrypt(blob, authentication="shop", parameter="client_secret")
    message = str(info.value)
    assert "'shop'" in message
    assert "does not match the one the store was written with" in message
    assert f"set {KEY_ENV} to the original key" in message


def test_cipher_refuses_a_key_of_the_wrong_length() -> None:
    with pytest.raises(SecretKeyError, match="needs 32"):
        SecretCipher(b"short")


def test_repr_shows_the_key_id_not_the_key() -> None:
    key = os.urandom(32)
    text = repr(SecretCipher(key))
    assert key.hex() not in text
    assert base64.urlsafe_b64encode(key).decode() not in text


def test_generated_key_text_is_urlsafe_base64_of_32_bytes() -> None:
    text = generate_key_text()
    assert len(base64.urlsafe_b64decode(text)) == 32
    assert text != generate_key_text()


def test_key_from_the_environment_is_used_and_no_file_written(home: Path) -> None:
    key = os.urandom(32)
    environ = {KEY_ENV: base64.urlsafe_b64encode(key).decode() + "\n"}
    assert load_secret_key(home, environ) == key
    assert not (home / KEY_FILE_NAME).exists()


def test_key_in_the_environment_without_padding_is_accepted(home: Path) -> None:
    key = os.urandom(32)
    text = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert load_secret_key(home, {KEY_ENV: text}) == key


@pytest.mark.parametrize("shape", ["as-is", "short", "with-space"])
def test_malformed_key_in_the_environment_is_named_without_echoing_it(
    home: Path, canary: str, shape: str
) -> None:
    value = {
        "as-is": canary,
        "short": base64.urlsafe_b64encode(canary.encode()[:16]).decode(),
        "with-space": generate_key_text()[:20] + " " + canary,
    }[shape]
    with pytest.raises(SecretKeyError) as info:
        load_secret_key(home, {KEY_ENV: value})
    message = str(info.value)
    assert KEY_ENV in message
    assert "44 characters" in message
    assert value not in message
    assert canary not in message


def test_key_file_is_generated_owner_only_and_reused(home: Path) -> None:
    first = load_secret_key(home, {})
    path = home / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret_key(home, {}) == first
    assert len(first) == 32
    assert sorted(p.name for p in home.iterdir()) == [KEY_FILE_NAME]


def test_missing_key_file_is_an_error_when_creation_is_not_allowed(home: Path) -> None:
    with pytest.raises(SecretKeyError, match="missing") as info:
        load_secret_key(home, {}, create=False)
    assert KEY_ENV in str(info.value)
    assert not (home / KEY_FILE_NAME).exists()


def test_key_file_readable_by_others_is_refused(home: Path) -> None:
    load_secret_key(home, {})
    path = home / KEY_FILE_NAME
    path.chmod(0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        load_secret_key(home, {})


def test_damaged_key_file_is_named_without_its_content(home: Path, canary: str) -> None:
    path = home / KEY_FILE_NAME
    path.write_text(canary)
    path.chmod(0o600)
    with pytest.raises(SecretKeyError, match="does not hold a valid key") as info:
        load_secret_key(home, {})
    assert canary not in str(info.value)


def test_creator_that_loses_the_race_uses_the_published_key(home: Path) -> None:
    winner = load_secret_key(home, {})
    # as if this process wrote its own key just after another one published
    assert _create_key_file(home / KEY_FILE_NAME) == winner
    assert sorted(p.name for p in home.iterdir()) == [KEY_FILE_NAME]


def test_threads_racing_to_create_the_key_file_share_one_key(home: Path) -> None:
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        keys.append(load_secret_key(home, {}))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(keys) == 8
    assert len(set(keys)) == 1

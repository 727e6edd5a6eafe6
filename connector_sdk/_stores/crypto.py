"""Encryption of secret parameter values at rest, and the key that does it.

``SecretCipher`` seals each secret value on its own with AES-256-GCM (an authenticated
cipher from the ``cryptography`` package; no home-made crypto). A sealed value is one byte
string::

    version (1 byte, 0x01) | key id (8 bytes) | nonce (12 random bytes) | ciphertext + tag

The associated data binds the ciphertext to the authentication name and the parameter name
(and to the header above), so a value copied to another record or another field fails to
decrypt instead of silently becoming that record's secret. The key id (the first 8 bytes of a
SHA-256 over a label and the key) lets a wrong key be told apart from a damaged value:
``SecretKeyError`` with the fix, not a bare ``InvalidTag``. It reveals nothing useful about
a 256-bit random key.

The key comes from ``CONNECTOR_SDK_SECRET_KEY`` (URL-safe base64 of 32 bytes) or else from
``<home>/secret.key``, generated on first use. Generation is race-safe: each process writes
a complete key to its own temporary file (``O_EXCL``, mode ``0o600``, fsynced) and publishes
it with ``os.link``, which fails if the name exists; the loser discards its key and reads the
winner's. A reader therefore never sees a half-written key file, and two processes racing
end with the same key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import stat
import struct
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .._errors import SecretKeyError, StoreError
from .._secrets import Secret
from .home import check_private

__all__ = [
    "KEY_ENV",
    "KEY_FILE_NAME",
    "SecretCipher",
    "fsync_dir",
    "generate_key_text",
    "key_from_environment",
    "key_origin",
    "load_secret_key",
]

#: The environment variable holding the key (URL-safe base64 of 32 bytes).
KEY_ENV = "CONNECTOR_SDK_SECRET_KEY"
#: The key file's name inside the home directory.
KEY_FILE_NAME = "secret.key"

_KEY_BYTES = 32
_VERSION = b"\x01"
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12
_HEADER_BYTES = len(_VERSION) + _KEY_ID_BYTES + _NONCE_BYTES
_TAG_BYTES = 16
_AAD_LABEL = b"connector-sdk secret v1\x00"
_KEY_ID_LABEL = b"connector-sdk key id v1\x00"
_MAX_KEY_FILE_BYTES = 1024
_NEW_KEY_HINT = (
    'a new key can be made with: python -c "import base64, os; '
    'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
)


def generate_key_text() -> str:
    """A fresh random key as text: URL-safe base64 of 32 bytes (44 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_KEY_BYTES)).decode("ascii")


def _decode_key_text(text: str) -> bytes | None:
    """The 32 key bytes in ``text``, or None if it is not URL-safe base64 of 32 bytes."""
    text = text.strip()
    text += "=" * (-len(text) % 4)
    try:
        key = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return key if len(key) == _KEY_BYTES else None


def _length_prefixed(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


class SecretCipher:
    """Seals and opens secret values with one AES-256-GCM key.

    ``origin`` says where the key came from (shown in ``SecretKeyError`` messages, never the
    key itself). Instances are immutable and safe to share between threads.
    """

    __slots__ = ("_aead", "_key_id", "_origin")

    def __init__(self, key: bytes, *, origin: str = "the configured secret key") -> None:
        if len(key) != _KEY_BYTES:
            raise SecretKeyError(
                f"the secret key from {origin} has {len(key)} bytes; AES-256-GCM needs "
                f"{_KEY_BYTES}; {_NEW_KEY_HINT}"
            )
        self._aead = AESGCM(key)
        self._key_id = hashlib.sha256(_KEY_ID_LABEL + key).digest()[:_KEY_ID_BYTES]
        self._origin = origin

    def __repr__(self) -> str:
        return f"SecretCipher(key_id={self.key_id.hex()!r}, origin={self._origin!r})"

    @property
    def key_id(self) -> bytes:
        """8 bytes identifying the key (not the key): stored beside every sealed value."""
        return self._key_id

    @property
    def origin(self) -> str:
        return self._origin

    def encrypt(self, value: Secret | str, *, authentication: str, parameter: str) -> bytes:
        """Seal ``value`` for parameter ``parameter`` of authentication ``authentication``.

        Each call uses a fresh random 96-bit nonce, so sealing the same value twice gives
        different bytes.
        """
        clear = value.reveal() if isinstance(value, Secret) else value
        header = _VERSION + self._key_id + os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(
            header[-_NONCE_BYTES:],
            clear.encode("utf-8"),
            self._aad(header, authentication, parameter),
        )
        return header + sealed

    def decrypt(self, blob: bytes, *, authentication: str, parameter: str) -> Secret:
        """Open a value sealed by ``encrypt`` for the same authentication and parameter.

        Raises ``SecretKeyError`` when the value was sealed with another key, and
        ``StoreError`` when it is damaged or was moved from another record or field.
        """
        where = f"parameter {parameter!r} of authentication {authentication!r}"
        if len(blob) < _HEADER_BYTES + _TAG_BYTES or blob[:1] != _VERSION:
            raise StoreError(
                f"the stored secret {where} is damaged or was written by a newer "
                f"connector-sdk; upgrade connector-sdk, or delete and re-create "
                f"authentication {authentication!r}"
            )
        header = blob[:_HEADER_BYTES]
        if header[1 : 1 + _KEY_ID_BYTES] != self._key_id:
            raise SecretKeyError(
                f"cannot decrypt {where}: the secret key ({self._origin}) does not match the "
                f"one the store was written with; set {KEY_ENV} to the original key or "
                f"restore the original key file, or delete and re-create authentication "
                f"{authentication!r}"
            )
        try:
            clear = self._aead.decrypt(
                header[-_NONCE_BYTES:],
                blob[_HEADER_BYTES:],
                self._aad(header, authentication, parameter),
            )
        except InvalidTag:
            raise StoreError(
                f"the stored secret {where} failed its integrity check: it was altered, or "
                f"copied from another authentication or parameter; delete and re-create "
                f"authentication {authentication!r}"
            ) from None
        return Secret(clear.decode("utf-8"))

    @staticmethod
    def _aad(header: bytes, authentication: str, parameter: str) -> bytes:
        return (
            _AAD_LABEL
            + header[: 1 + _KEY_ID_BYTES]
            + _length_prefixed(authentication)
            + _length_prefixed(parameter)
        )


def key_origin(home: Path, environ: Mapping[str, str] | None = None) -> str:
    """Where ``load_secret_key`` takes the key from, for messages (never the key)."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV, "").strip():
        return KEY_ENV
    return f"the key file {home / KEY_FILE_NAME}"


def key_from_environment(environ: Mapping[str, str], name: str) -> bytes | None:
    """The 32-byte key in the variable ``name`` (URL-safe base64), or None when it is unset
    or blank. A malformed value is a ``SecretKeyError`` that names the variable, says how to
    make a key, and does not show the value. Every key the SDK reads from the environment
    (the store's, the Temporal payload key) goes through here."""
    text = environ.get(name, "")
    if not text.strip():
        return None
    key = _decode_key_text(text)
    if key is None:
        raise SecretKeyError(
            f"{name} is set but is not a valid key: it must be the URL-safe base64 "
            f"text of {_KEY_BYTES} random bytes (44 characters); {_NEW_KEY_HINT}"
        )
    return key


def load_secret_key(
    home: Path, environ: Mapping[str, str] | None = None, *, create: bool = True
) -> bytes:
    """The store's 32-byte key: ``CONNECTOR_SDK_SECRET_KEY``, else ``home/secret.key``.

    The key file is generated (mode ``0o600``, race-safe, see the module docstring) when it
    is missing and ``create`` is true; with ``create`` false a missing file is a
    ``SecretKeyError`` (callers pass false when a store already exists, because a new key
    could not decrypt it). ``home`` must exist and be private (``ensure_private_dir``).
    A malformed variable or file is a ``SecretKeyError`` that names where the key came from
    and does not show the value.
    """
    env = os.environ if environ is None else environ
    key = key_from_environment(env, KEY_ENV)
    if key is not None:
        return key
    path = home / KEY_FILE_NAME
    key_or_none = _read_key_file(path)
    if key_or_none is not None:
        return key_or_none
    if not create:
        raise SecretKeyError(
            f"the key file {path} is missing but the store in {home} exists and was written "
            f"with a key; restore the key file or set {KEY_ENV} to the original key "
            f"(without it the stored secrets cannot be read)"
        )
    return _create_key_file(path)


def _read_key_file(path: Path) -> bytes | None:
    """The key in ``path``, or None if the file does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not hang us
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretKeyError(
            f"cannot read the key file {path}: {exc.strerror}; make it readable by you "
            f"only (`chmod 600 {path}`) or set {KEY_ENV}"
        ) from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SecretKeyError(
                f"the key file {path} is a directory, not a key: move it away and restore the "
                f"key file from a backup, or set {KEY_ENV} to the key (with no store yet, "
                f"removing the directory lets connector-sdk generate a new key)"
            )
        if not stat.S_ISREG(info.st_mode):
            raise SecretKeyError(
                f"the key file {path} is not a regular file; replace it with the key file "
                f"from a backup, or set {KEY_ENV}"
            )
        check_private(path, info, kind="key file", fix_mode="600")
        data = os.read(fd, _MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    key = None
    if len(data) <= _MAX_KEY_FILE_BYTES:
        with contextlib.suppress(UnicodeDecodeError):
            key = _decode_key_text(data.decode("ascii"))
    if key is None:
        raise SecretKeyError(
            f"the key file {path} does not hold a valid key (URL-safe base64 of "
            f"{_KEY_BYTES} bytes); restore it from a backup or set {KEY_ENV}"
        )
    return key


def _create_key_file(path: Path) -> bytes:
    """Generate a key and publish it at ``path`` unless another process did first."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (generate_key_text() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        # FileExistsError: another process published its key first; everyone uses that one.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise StoreError(
            f"cannot create the key file {path}: {exc.strerror}; make its directory "
            f"writable, or set {KEY_ENV} (the key is then never written to disk)"
        ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    key = _read_key_file(path)
    if key is None:  # removed between link and read: only another actor can do that
        raise SecretKeyError(f"the key file {path} vanished while it was being created")
    return key


def fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)

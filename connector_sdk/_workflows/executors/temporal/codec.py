"""Payloads encrypted before they reach the Temporal server, so its history holds no clear data.

Temporal stores every workflow and activity argument and result in its history, in clear by
default (https://docs.temporal.io/payload-codec). ``EncryptionCodec`` seals each payload with
AES-256-GCM (``cryptography``'s ``AESGCM``): a fresh 96-bit nonce per payload, the key id
(8 bytes of a hash of the key, never the key) in the payload's metadata so a process with
another key fails with a message saying so, and the associated data binding the ciphertext
to that metadata. ``data_converter`` also encodes failure messages and stack traces
(``DefaultFailureConverterWithEncodedAttributes``), so an error report is sealed too.

The key comes from ``CONNECTOR_SDK_TEMPORAL_KEY`` (URL-safe base64 of 32 bytes, the format
``connector-sdk`` store keys use), else it is derived (HKDF-SHA256, a label of its own) from
the store's key (``CONNECTOR_SDK_SECRET_KEY`` or the key file), so every worker and client of
one fleet shares it when they share the store's key, and the payload key is never the store
key itself. What callers may rely on: a payload this codec did not seal (no ``encoding``
metadata of ours) is passed through on decode; a sealed one that does not open is an error,
never a wrong value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping, Sequence

import temporalio.converter
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload

from ...._errors import SecretKeyError
from ...._stores.crypto import key_from_environment, load_secret_key
from ...._stores.home import ensure_private_dir, sdk_home

__all__ = ["ENCODING", "KEY_ENV", "EncryptionCodec", "data_converter", "load_payload_key"]

#: The environment variable holding the payload key (URL-safe base64 of 32 bytes).
KEY_ENV = "CONNECTOR_SDK_TEMPORAL_KEY"
#: The ``encoding`` metadata of a sealed payload.
ENCODING = b"binary/connector-sdk-aes256gcm"
_KEY_ID = "connector-sdk-key-id"
_NONCE_BYTES = 12
_HKDF_INFO = b"connector-sdk temporal payload key v1"


def load_payload_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The 32-byte payload key: ``CONNECTOR_SDK_TEMPORAL_KEY``, else derived from the
    store's key. A malformed variable is a ``SecretKeyError`` that does not show it."""
    env = os.environ if environ is None else environ
    key = key_from_environment(env, KEY_ENV)
    if key is not None:
        return key
    home = sdk_home(env)
    ensure_private_dir(home)
    store_key = load_secret_key(home, env)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_HKDF_INFO).derive(store_key)


class EncryptionCodec(temporalio.converter.PayloadCodec):
    """Seals every payload with one AES-256-GCM key; see the module docstring."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretKeyError(f"the Temporal payload key has {len(key)} bytes; AES-256-GCM"
                                 " needs 32")
        self._aead = AESGCM(key)
        self._key_id = hashlib.sha256(b"connector-sdk temporal key id\x00" + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"EncryptionCodec(key_id={self._key_id!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        sealed = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            data = nonce + self._aead.encrypt(nonce, payload.SerializeToString(), self._aad())
            sealed.append(Payload(metadata={"encoding": ENCODING,
                                            _KEY_ID: self._key_id.encode()}, data=data))
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding", b"") != ENCODING:
                opened.append(payload)
                continue
            key_id = payload.metadata.get(_KEY_ID, b"").decode(errors="replace")
            if key_id != self._key_id:
                raise SecretKeyError(
                    f"a Temporal payload was sealed with key {key_id!r}, this process has key"
                    f" {self._key_id!r}: give every worker and client the same"
                    f" {KEY_ENV} (or the same store key)")
            nonce, body = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            try:
                clear = self._aead.decrypt(nonce, body, self._aad())
            except InvalidTag:
                raise SecretKeyError("a Temporal payload does not open with the payload key"
                                     " (damaged, or sealed with another key)") from None
            opened.append(Payload.FromString(clear))
        return opened

    def _aad(self) -> bytes:
        return ENCODING + b"\x00" + self._key_id.encode()


def data_converter(key: bytes | None = None) -> temporalio.converter.DataConverter:
    """Temporal's default JSON converter with ``EncryptionCodec`` and encoded failures."""
    return dataclasses.replace(
        temporalio.converter.default(),
        payload_codec=EncryptionCodec(load_payload_key() if key is None else key),
        failure_converter_class=temporalio.converter.DefaultFailureConverterWithEncodedAttributes,
    )

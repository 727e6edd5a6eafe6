"""``auth list`` masks every secret, so it never opens one (issue 11.3: decrypting 10,000
secrets only to mask them was a third of its time); ``auth show`` opens the one it shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector_sdk import Runtime, Secret, StoreError
from connector_sdk._stores.codec import SealedValue
from connector_sdk._stores.crypto import KEY_ENV, SecretCipher, generate_key_text
from connector_sdk._stores.home import HOME_ENV, ensure_private_dir
from connector_sdk._stores.sqlite import open_default_store

CLIENT_ID = "abcdefghijklmnopqrstuvwxyz0123"


def _cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector_sdk.cli", *args],
                          env={**os.environ, HOME_ENV: str(home), **env}, capture_output=True,
                          text=True, timeout=120, check=False)


def test_listing_without_opening_never_decrypts(
    tmp_path: Path, canary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = ensure_private_dir(tmp_path / "home")
    with open_default_store({HOME_ENV: str(home)}) as store:
        store.create("one", "svc", {"region": "eu", "key": Secret(canary)})

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("a listing opened a secret")

        monkeypatch.setattr(SecretCipher, "decrypt", refuse)
        (record,) = store.list(open_secrets=False)
        assert record.parameters["region"] == "eu"
        sealed = record.parameters["key"]
        assert isinstance(sealed, SealedValue)
        assert canary not in repr(record)
        with pytest.raises(StoreError, match="listed without being opened"):
            sealed.reveal()


def test_auth_list_shows_records_a_wrong_key_cannot_open_and_show_says_so(
    tmp_path: Path, canary: str
) -> None:
    home = tmp_path / "home"
    with Runtime(environ={HOME_ENV: str(home)}) as runtime:
        runtime.create_authentication("twitch", "app",
                                      {"client_id": CLIENT_ID, "client_secret": canary})
    wrong = {KEY_ENV: generate_key_text()}
    listed = _cli(home, "auth", "list", **wrong)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("app ")
    as_json = _cli(home, "auth", "list", "--format", "json", **wrong)
    assert as_json.returncode == 0, as_json.stderr
    [view] = json.loads(as_json.stdout)["authentications"]
    assert view["parameters"] == {"client_id": CLIENT_ID, "client_secret": "**********"}
    shown = _cli(home, "auth", "show", "app", **wrong)
    assert shown.returncode == 0, shown.stderr
    assert "unreadable" in shown.stdout
    for result in (listed, as_json, shown):
        assert canary not in result.stdout + result.stderr

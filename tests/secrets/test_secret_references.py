"""Secret references on a real runtime and store, against the Twitch emulator's loopback
server (a real token endpoint that checks the client secret).

A reference is stored as the reference; the value is asked for at each token request, so a
secret rotated at its source is used without touching the store. The keyring scheme runs
against a real file-backed backend (keyrings.alt's PlaintextKeyring in a temp directory).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_twitch.emulator import TwitchSandbox

from connector_sdk import (
    ParameterError,
    Runtime,
    SecretReferenceError,
    TokenEndpointError,
    hookimpl,
)
from connector_sdk._secrets import SecretReference
from connector_sdk.cli import main
from connector_sdk.sandbox import SandboxServer


@pytest.fixture
def twitch() -> Iterator[tuple[TwitchSandbox, SandboxServer]]:
    sandbox = TwitchSandbox()
    with SandboxServer(sandbox) as server:
        yield sandbox, server


class Vault:
    """A plugin's own scheme (``vault:path#key``) over an in-process key-value store."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}
        self.reads = 0

    @hookimpl
    def register_secret_resolvers(self, register: Any) -> None:
        def resolve(where: str) -> str:
            path, _, key = where.partition("#")
            self.reads += 1
            try:
                return self.data[path][key]
            except KeyError:
                raise LookupError(f"vault has no key '{key}' at '{path}'") from None

        register("vault", resolve)


@pytest.fixture
def vault() -> Vault:
    return Vault()


@pytest.fixture
def runtime(tmp_path: Path, twitch: tuple[TwitchSandbox, SandboxServer], vault: Vault
            ) -> Iterator[Runtime]:
    environ = {"CONNECTOR_SDK_HOME": str(tmp_path / "home")}
    with Runtime(environ=environ, sandbox_url=twitch[1].url,
                 extra_plugins={"test-vault": vault}) as rt:
        yield rt


def _rotate(runtime: Runtime, name: str) -> None:
    """Drop the held token, as its expiry would, so the next call requests a new one."""
    runtime.tokens.forget(runtime.get_authentication(name))


def test_env_reference_is_stored_as_reference_and_resolved_at_each_token_request(
    runtime: Runtime, twitch: tuple[TwitchSandbox, SandboxServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = twitch[0].parameters()
    monkeypatch.setenv("TWITCH_TEST_SECRET", good["client_secret"])
    created = runtime.create_authentication("twitch", "ref", {
        "client_id": good["client_id"],
        "client_secret": {"$secret": "env:TWITCH_TEST_SECRET"}})
    stored = runtime.list_authentications()[0].parameters["client_secret"]
    assert isinstance(stored, SecretReference)
    assert stored.reference == "env:TWITCH_TEST_SECRET"
    assert runtime.get_token("ref").access_token
    monkeypatch.setenv("TWITCH_TEST_SECRET", "wrong-secret-canary")  # rotated at the source
    _rotate(runtime, "ref")
    with pytest.raises(TokenEndpointError) as caught:
        runtime.get_token("ref")
    assert "wrong-secret-canary" not in str(caught.value)
    assert runtime.get_authentication("ref").updated_at == created.updated_at


def test_file_reference_picks_up_a_rotated_file(
    runtime: Runtime, twitch: tuple[TwitchSandbox, SandboxServer], tmp_path: Path,
) -> None:
    good = twitch[0].parameters()
    secret_file = tmp_path / "client_secret"
    secret_file.write_text(good["client_secret"] + "\n")
    runtime.create_authentication("twitch", "f", {
        "client_id": good["client_id"], "client_secret": {"$secret": f"file:{secret_file}"}})
    with runtime.client("f") as client:
        assert client.get("/users", params={"login": "x"}).status_code != 401
    secret_file.write_text("rotated-wrong\n")
    _rotate(runtime, "f")
    with pytest.raises(TokenEndpointError):
        runtime.get_token("f")


def test_keyring_reference_on_a_file_backed_keyring(
    runtime: Runtime, twitch: tuple[TwitchSandbox, SandboxServer], tmp_path: Path,
) -> None:
    keyring = pytest.importorskip("keyring")
    plaintext = pytest.importorskip("keyrings.alt.file")
    backend = plaintext.PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        good = twitch[0].parameters()
        keyring.set_password("connector-sdk-test", "twitch", good["client_secret"])
        runtime.create_authentication("twitch", "k", {
            "client_id": good["client_id"],
            "client_secret": {"$secret": "keyring:connector-sdk-test/twitch"}})
        assert runtime.get_token("k").access_token
        keyring.delete_password("connector-sdk-test", "twitch")
        _rotate(runtime, "k")
        with pytest.raises(SecretReferenceError) as caught:
            runtime.get_token("k")
        assert caught.value.parameter == "client_secret"
        assert caught.value.authentication == "k"
        assert "no entry for service 'connector-sdk-test'" in str(caught.value)
    finally:
        keyring.set_keyring(previous)


def test_plugin_scheme_resolves_through_the_hook(
    runtime: Runtime, twitch: tuple[TwitchSandbox, SandboxServer], vault: Vault,
) -> None:
    good = twitch[0].parameters()
    vault.data["kv/twitch"] = {"secret": good["client_secret"]}
    runtime.create_authentication("twitch", "v", {
        "client_id": good["client_id"], "client_secret": {"$secret": "vault:kv/twitch#secret"}})
    assert vault.reads == 0  # created without asking the manager
    assert runtime.get_token("v").access_token
    assert vault.reads == 1
    assert runtime.get_token("v").access_token  # warm: no second read
    assert vault.reads == 1


def test_unresolvable_reference_names_authentication_and_parameter_never_the_value(
    runtime: Runtime, twitch: tuple[TwitchSandbox, SandboxServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWITCH_MISSING_SECRET", raising=False)
    runtime.create_authentication("twitch", "m", {
        "client_id": twitch[0].parameters()["client_id"],
        "client_secret": {"$secret": "env:TWITCH_MISSING_SECRET"}})
    with pytest.raises(SecretReferenceError) as caught:
        runtime.get_token("m")
    message = str(caught.value)
    assert "authentication 'm'" in message
    assert "parameter 'client_secret'" in message
    assert "TWITCH_MISSING_SECRET is not set" in message
    monkeypatch.setenv("TWITCH_MISSING_SECRET", twitch[0].parameters()["client_secret"])
    assert runtime.get_token("m").access_token  # fixed at the source: no cooldown


def test_unknown_scheme_and_reference_on_a_plain_parameter_are_refused_at_create(
    runtime: Runtime,
) -> None:
    with pytest.raises(ParameterError) as caught:
        runtime.create_authentication("twitch", "u", {
            "client_id": "a" * 30, "client_secret": {"$secret": "vualt:kv/x#y"}})
    assert "client_secret" in caught.value.fields
    assert "vualt" in str(caught.value)
    with pytest.raises(ParameterError) as caught:
        runtime.create_authentication("twitch", "u", {
            "client_id": {"$secret": "env:X"}, "client_secret": {"$secret": "env:X"}})
    assert list(caught.value.fields) == ["client_id"]
    with pytest.raises(ParameterError):
        runtime.create_authentication("twitch", "u", {
            "client_id": "a" * 30, "client_secret": {"$secret": "no-scheme"}})
    assert runtime.list_authentications() == []


def test_cli_ref_form_stores_a_reference_and_auth_test_resolves_it(
    tmp_path: Path, twitch: tuple[TwitchSandbox, SandboxServer],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    good = twitch[0].parameters()
    monkeypatch.setenv("CONNECTOR_SDK_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("CONNECTOR_SDK_SANDBOX_URL", twitch[1].url)
    monkeypatch.setenv("CLI_TWITCH_SECRET", good["client_secret"])
    assert main(["auth", "create", "twitch", "--name", "cli", "--param",
                 f"client_id={good['client_id']}", "--param",
                 "client_secret=@ref:env:CLI_TWITCH_SECRET"]) == 0
    assert main(["auth", "test", "cli"]) == 0
    monkeypatch.setenv("CLI_TWITCH_SECRET", "rotated-canary")
    with Runtime() as rt:
        value = rt.get_authentication("cli").parameters["client_secret"]
        assert isinstance(value, SecretReference)
        assert value.reference == "env:CLI_TWITCH_SECRET"
    assert main(["auth", "test", "cli"]) != 0  # a new process: the rotated value is used
    assert good["client_secret"] not in capsys.readouterr().out
    assert "rotated-canary" not in capsys.readouterr().out

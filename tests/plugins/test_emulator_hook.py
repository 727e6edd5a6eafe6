"""Emulators come from plugins through ``register_emulators``: the core knows no provider, so
``--sandbox`` and ``connector-sdk sandbox`` work for any service whose plugin ships one, and a
service without one gets ``EmulatorNotFound`` saying what to do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector_sdk import EmulatorNotFound, PluginError, Runtime, hookimpl
from connector_sdk._plugins.manager import load_plugins
from connector_sdk.sandbox import SandboxBase, TokenRecord, json_response, read_form

from .conftest import ACME, scratch_cli

BLOCK = {"CONNECTOR_SDK_BLOCK_PLUGINS": "broken,typo"}


class AcmeSandbox(SandboxBase):
    """The tenant host ``t1.acme.example``: a token endpoint and nothing else."""

    name = "acme"

    @property
    def hosts(self) -> tuple[str, ...]:
        return ("t1.acme.example",)

    def serves(self, host: str) -> bool:
        return host in self.hosts

    def parameters(self) -> dict[str, str]:
        return {"tenant": "t1", "client_id": "sbx-acme", "client_secret": "sbx-acme-secret"}

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.count_request(request, token=True)
            form = read_form(request) or {}
            if form.get("grant_type") != "client_credentials":
                return json_response(400, {"error": "unsupported_grant_type"})
            record = TokenRecord("sbx-acme", expires_at=self.clock() + 600)
            return json_response(200, {"access_token": self.mint_token(record),
                                       "token_type": "Bearer", "expires_in": 600})


class AcmePlugin:
    def __init__(self, factory: Any = AcmeSandbox) -> None:
        self.factory = factory

    @hookimpl
    def register_services(self, register):  # type: ignore[no-untyped-def]
        register(ACME)

    @hookimpl
    def register_emulators(self, register):  # type: ignore[no-untyped-def]
        register("acme", self.factory)


def test_a_plugin_emulator_serves_the_sandboxed_runtime(tmp_path: Path) -> None:
    env = {"CONNECTOR_SDK_LOAD_PLUGINS": "acme"}
    with Runtime(environ=env, home=tmp_path, sandbox=True,
                 extra_plugins={"acme": AcmePlugin()}) as runtime:
        authentication = runtime.resolve_authentication("any-name", "acme")
        assert authentication.parameters["tenant"] == "t1"
        token = runtime.get_token(authentication)
        assert token.token_type.lower() == "bearer"
        emulator = runtime.emulator("acme")
        assert isinstance(emulator, AcmeSandbox)
        assert emulator.token_requests == 1
        assert runtime.sandboxes == [emulator]
    assert not (tmp_path / "authentications.db").exists(), "sandbox mode stores nothing"


def test_a_service_without_emulator_says_how_to_fix_it(tmp_path: Path) -> None:
    class NoEmulator:
        @hookimpl
        def register_services(self, register):  # type: ignore[no-untyped-def]
            register(ACME)

    runtime = Runtime(environ={"CONNECTOR_SDK_LOAD_PLUGINS": "plain"}, home=tmp_path,
                      sandbox=True, extra_plugins={"plain": NoEmulator()})
    with runtime, pytest.raises(EmulatorNotFound) as raised:
        runtime.resolve_authentication("x", "acme")
    message = str(raised.value)
    assert raised.value.service == "acme"
    assert "service 'acme' has no emulator" in message
    assert "plugin 'plain'" in message and "register_emulators" in message
    assert "connector-sdk auth create acme NAME" in message


def test_a_runtime_without_sandbox_has_no_emulator(tmp_path: Path) -> None:
    with Runtime(environ={}, home=tmp_path) as runtime, \
            pytest.raises(EmulatorNotFound, match=r"Runtime\(sandbox=True\)"):
        runtime.emulator("twitch")


def test_a_failing_factory_fails_only_its_service(tmp_path: Path) -> None:
    def factory() -> Any:
        raise RuntimeError("no data")

    env = {"CONNECTOR_SDK_LOAD_PLUGINS": "acme,twitch"}
    with Runtime(environ=env, home=tmp_path, sandbox=True,
                 extra_plugins={"acme": AcmePlugin(factory)}) as runtime:
        assert runtime.emulator("twitch").name == "twitch"
        with pytest.raises(PluginError, match="plugin 'acme' failed to create the emulator of"
                           " service 'acme': RuntimeError: no data") as raised:
            runtime.resolve_authentication("x", "acme")
    assert raised.value.plugin == "acme"


def test_duplicate_and_invalid_emulator_registrations_fail_their_plugin() -> None:
    class Again(AcmePlugin):
        @hookimpl
        def register_services(self, register):  # type: ignore[no-untyped-def]
            pass

    class NotCallable:
        @hookimpl
        def register_emulators(self, register):  # type: ignore[no-untyped-def]
            register("thing", "not a factory")

    plugins = load_plugins({}, entry_point_loader=list, extra_plugins={
        "acme": AcmePlugin(), "again": Again(), "odd": NotCallable()})
    failures = {f.plugin: f.message for f in plugins.failures}
    assert set(failures) == {"again", "odd"}
    assert "already registered by plugin 'acme'" in failures["again"]
    assert "a function (or class) that returns a new emulator" in failures["odd"]
    assert plugins.registry.emulator("acme").plugin == "acme"


# A third-party connector installed with pip ---------------------------------------------------

def test_call_with_sandbox_uses_a_third_party_emulator(scratch_site: Path) -> None:
    result = scratch_cli(scratch_site, "call", "scratch.list_items", "--sandbox", **BLOCK)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"items": [{"id": 0}, {"id": 1}, {"id": 2}]}


def test_services_and_plugins_list_the_emulators(scratch_site: Path) -> None:
    services = scratch_cli(scratch_site, "services", "--format", "json", **BLOCK)
    by_id = {s["id"]: s for s in json.loads(services.stdout)["services"]}
    assert by_id["scratch"]["emulator"] is True
    assert by_id["plain"]["emulator"] is False
    assert by_id["twitch"]["emulator"] is True
    plugins = scratch_cli(scratch_site, "plugins", "--format", "json", **BLOCK)
    loaded = {p["name"]: p for p in json.loads(plugins.stdout)["loaded"]}
    assert loaded["scratch"]["emulators"] == ["scratch"]
    assert loaded["plain"]["emulators"] == []


def test_sandbox_command_refuses_a_service_without_emulator(scratch_site: Path) -> None:
    result = scratch_cli(scratch_site, "sandbox", "plain", "--port", "0", **BLOCK)
    assert result.returncode == 1
    assert "service 'plain' has no emulator" in result.stderr
    assert "register_emulators" in result.stderr
    unknown = scratch_cli(scratch_site, "sandbox", "scratc", **BLOCK)
    assert unknown.returncode == 1
    assert "no emulator for service 'scratc': did you mean 'scratch'?" in unknown.stderr
    assert "Traceback" not in result.stderr + unknown.stderr


def test_sandbox_command_serves_a_third_party_emulator_on_loopback(scratch_site: Path) -> None:
    path = os.pathsep.join(p for p in (str(scratch_site), os.environ.get("PYTHONPATH", "")) if p)
    environ = dict(os.environ, PYTHONPATH=path, **BLOCK)
    process = subprocess.Popen(
        [sys.executable, "-m", "connector_sdk.cli", "sandbox", "scratch", "twitch", "--port",
         "0"], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "Ctrl-C" in line:
                break
        url = lines[0].split()[-1]
        text = "\n".join(lines)
        assert "scratch: answers for auth.scratch.example, api.scratch.example" in text
        assert "client_id = sbx-scratch-client" in text
        assert "twitch: answers for id.twitch.tv" in text
        response = httpx.post(f"{url}/oauth/token", headers={"Host": "auth.scratch.example"},
                              data={"client_id": "sbx-scratch-client",
                                    "client_secret": "sbx-scratch-secret"}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["token_type"] == "Bearer"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.rstrip().endswith("sandbox stopped")

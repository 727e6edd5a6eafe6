"""Plugin discovery and fault isolation, with real entry points where it matters."""

from __future__ import annotations

import io
import json
from pathlib import Path

from connector_sdk import hookimpl
from connector_sdk._plugins.manager import load_plugins

from .conftest import ACME, scratch_cli


class plugin_registering:
    """A plugin object whose register_services registers ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text

    @hookimpl
    def register_services(self, register):  # type: ignore[no-untyped-def]
        register(self.text)


def test_extra_plugin_registers_a_service_with_its_name() -> None:
    plugins = load_plugins({}, extra_plugins={"acme": plugin_registering(ACME)},
                           entry_point_loader=list)
    assert plugins.failures == []
    service = plugins.registry.get("acme")
    assert service.plugin == "acme"
    assert [p.name for p in plugins.loaded] == ["builtin", "acme"]


def test_broken_plugin_is_reported_and_others_still_load() -> None:
    class Broken:
        @hookimpl
        def register_services(self, register):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    invalid = plugin_registering(ACME.replace("id: acme", "id: Not Valid"))
    plugins = load_plugins({}, entry_point_loader=list, extra_plugins={
        "acme": plugin_registering(ACME), "broken": Broken(), "invalid": invalid})
    assert [s.id for s in plugins.registry] == ["acme"]
    failures = {f.plugin: f for f in plugins.failures}
    assert set(failures) == {"broken", "invalid"}
    assert "RuntimeError: boom" in failures["broken"].message
    assert failures["invalid"].problems[0].rule == "SCHEMA-PATTERN"


def test_duplicate_service_names_both_plugins() -> None:
    plugins = load_plugins({}, entry_point_loader=list, extra_plugins={
        "first": plugin_registering(ACME), "second": plugin_registering(ACME)})
    [failure] = plugins.failures
    assert failure.plugin == "second"
    assert "already registered by plugin 'first'" in failure.message
    assert plugins.registry.get("acme").plugin == "first"


def test_allow_and_block_lists() -> None:
    bee = ACME.replace("id: acme", "id: bee")
    extra = {"a": plugin_registering(ACME), "b": plugin_registering(bee)}
    only_b = load_plugins({"CONNECTOR_SDK_LOAD_PLUGINS": "b"}, entry_point_loader=list,
                          extra_plugins=extra)
    assert [s.id for s in only_b.registry] == ["bee"]
    assert ("a", "not in CONNECTOR_SDK_LOAD_PLUGINS") in only_b.skipped
    none = load_plugins({"CONNECTOR_SDK_LOAD_PLUGINS": ""}, entry_point_loader=list,
                        extra_plugins=extra)
    assert list(none.registry) == []
    blocked = load_plugins({"CONNECTOR_SDK_BLOCK_PLUGINS": "a"}, entry_point_loader=list,
                           extra_plugins=extra)
    assert [s.id for s in blocked.registry] == ["bee"]


def test_trace_prints_hook_calls() -> None:
    out = io.StringIO()
    load_plugins({"CONNECTOR_SDK_TRACE_PLUGINS": "1"}, entry_point_loader=list,
                 extra_plugins={"acme": plugin_registering(ACME)}, trace_to=out)
    text = out.getvalue()
    assert "calling register_services on [acme]" in text
    assert "register_services done in" in text


def test_installed_third_party_connector_is_discovered(scratch_site: Path) -> None:
    result = scratch_cli(scratch_site, "services", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = {s["id"]: s for s in json.loads(result.stdout)["services"]}
    assert services["scratch"]["plugin"] == "scratch"
    assert services["scratch"]["distribution"] == "connector-sdk-scratch"
    assert "warning: plugin broken failed" in result.stderr
    assert "ModuleNotFoundError" in result.stderr


def test_plugins_command_lists_failures_by_name(scratch_site: Path) -> None:
    result = scratch_cli(scratch_site, "plugins", "--format", "json")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert "scratch" in [p["name"] for p in payload["loaded"]]
    assert [f["name"] for f in payload["failures"]] == ["broken", "typo"]
    assert "Traceback" not in result.stderr


def test_block_the_broken_plugin(scratch_site: Path) -> None:
    result = scratch_cli(scratch_site, "plugins", CONNECTOR_SDK_BLOCK_PLUGINS="broken,typo")
    assert result.returncode == 0, result.stdout
    assert "broken           skipped: blocked by CONNECTOR_SDK_BLOCK_PLUGINS" in result.stdout


def test_validate_without_paths_checks_installed_manifests(scratch_site: Path) -> None:
    result = scratch_cli(scratch_site, "validate", CONNECTOR_SDK_BLOCK_PLUGINS="broken,typo")
    assert result.returncode == 0, result.stdout
    assert "valid" in result.stdout
    failing = scratch_cli(scratch_site, "validate")
    assert failing.returncode == 1
    assert "PLUGIN-LOAD" in failing.stdout


def test_an_unknown_name_in_the_allow_list_is_reported() -> None:
    plugins = load_plugins({"CONNECTOR_SDK_LOAD_PLUGINS": "acme,acmee"}, entry_point_loader=list,
                           extra_plugins={"acme": plugin_registering(ACME)})
    [failure] = plugins.failures
    assert failure.plugin == "acmee"
    assert "did you mean 'acme'?" in failure.message
    assert [s.id for s in plugins.registry] == ["acme"]

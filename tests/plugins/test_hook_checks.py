"""pluggy's own checks and calling: a misspelt hook fails its plugin's load by name, and every
hook call, the single-result store and cache hooks included, goes through pluggy (so its
tracing sees it)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import PluginError, Runtime, RuntimeConfig, hookimpl
from connector_sdk._auth.cache import MemoryTokenCache
from connector_sdk._plugins.manager import first_result, load_plugins

from .conftest import ACME, scratch_cli


class Misspelt:
    """``register_service`` (no s): without the check it would load and register nothing."""

    @hookimpl
    def register_service(self, register):  # type: ignore[no-untyped-def]
        register(ACME)

    @hookimpl
    def token_cach(self, config):  # type: ignore[no-untyped-def]
        return MemoryTokenCache()


class Good:
    @hookimpl
    def register_services(self, register):  # type: ignore[no-untyped-def]
        register(ACME.replace("id: acme", "id: good"))


def test_a_misspelt_hook_fails_that_plugin_naming_the_hook_it_meant() -> None:
    plugins = load_plugins({}, entry_point_loader=list,
                           extra_plugins={"misspelt": Misspelt(), "good": Good()})
    [failure] = plugins.failures
    assert failure.plugin == "misspelt"
    assert "'register_service': did you mean 'register_services'?" in failure.message
    assert "'token_cach': did you mean 'token_cache'?" in failure.message
    assert "docs/plugin-hooks.md" in failure.message
    assert [p.name for p in plugins.loaded] == ["builtin", "good"]
    assert [s.id for s in plugins.registry] == ["good"]
    assert not plugins.manager.has_plugin("misspelt"), "its other hooks must not run either"


def test_an_optional_unknown_hook_is_allowed() -> None:
    class Optional:
        @hookimpl(optionalhook=True)
        def a_future_hook(self) -> None:
            raise AssertionError("never called")

    plugins = load_plugins({}, entry_point_loader=list, extra_plugins={"optional": Optional()})
    assert plugins.failures == []
    assert "optional" in [p.name for p in plugins.loaded]


def test_an_installed_plugin_with_a_misspelt_hook_is_reported_by_the_cli(
    scratch_site: Path,
) -> None:
    result = scratch_cli(scratch_site, "plugins", "--format", "json",
                         CONNECTOR_SDK_BLOCK_PLUGINS="broken")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    [failure] = payload["failures"]
    assert failure["name"] == "typo"
    assert failure["distribution"] == "connector-sdk-scratch"
    assert "did you mean 'register_services'?" in failure["message"]
    assert {"scratch", "plain"} <= {p["name"] for p in payload["loaded"]}
    assert "Traceback" not in result.stderr


def test_trace_shows_the_store_and_cache_hooks(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    env = {"CONNECTOR_SDK_TRACE_PLUGINS": "1", "CONNECTOR_SDK_LOAD_PLUGINS": "twitch"}
    with Runtime(environ=env, home=tmp_path) as runtime:
        runtime.list_authentications()
    err = capsys.readouterr().err
    for hook, plugin in (("register_services", "twitch"), ("register_emulators", "twitch"),
                         ("token_cache", "builtin"), ("authentication_store", "builtin")):
        assert f"calling {hook} on [{plugin}]" in err, err
        assert f"{hook} done in" in err
    assert "on []" not in err


def test_trace_lists_every_implementation_of_a_single_result_hook(tmp_path: Path) -> None:
    class Passing:
        @hookimpl
        def token_cache(self, config: Any) -> None:
            return None

    out = io.StringIO()
    plugins = load_plugins({"CONNECTOR_SDK_TRACE_PLUGINS": "1"}, entry_point_loader=list,
                           extra_plugins={"passing": Passing()}, trace_to=out)
    config = RuntimeConfig(home=tmp_path, environ={})
    cache = first_result(plugins.manager, "token_cache", config=config)
    assert isinstance(cache, MemoryTokenCache)
    assert "calling token_cache on [builtin, passing]" in out.getvalue()


def _explode() -> None:
    raise RuntimeError("deep boom")


def test_a_raising_single_result_hook_is_named_among_several() -> None:
    class Passing:
        @hookimpl
        def token_cache(self, config: Any) -> None:
            return None

    class Raising:
        @hookimpl
        def token_cache(self, config: Any) -> None:
            _explode()  # raised below the implementation: still attributed to it

    with pytest.raises(PluginError, match="plugin 'raising' failed in hook token_cache:"
                       " RuntimeError: deep boom") as raised:
        Runtime(environ={"CONNECTOR_SDK_LOAD_PLUGINS": "passing,raising"},
                extra_plugins={"passing": Passing(), "raising": Raising()})
    assert raised.value.plugin == "raising"

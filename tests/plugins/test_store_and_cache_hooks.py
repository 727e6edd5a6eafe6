"""The store and the token cache are chosen through hooks; a plugin's answer beats the
built-in one, which answers last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connector_sdk import Runtime, hookimpl
from connector_sdk._auth.cache import MemoryTokenCache
from connector_sdk._stores.sqlite import AuthenticationRecord


class DictStore:
    """A minimal in-memory store, as a third-party backend would provide."""

    def __init__(self) -> None:
        self.records: dict[str, AuthenticationRecord] = {}

    def create(self, name: str, service: str, parameters: Any) -> AuthenticationRecord:
        record = AuthenticationRecord(name, service, dict(parameters), "t0", "t0", 1)
        self.records[name] = record
        return record

    def get(self, name: str) -> AuthenticationRecord:
        return self.records[name]

    def list(self) -> list[AuthenticationRecord]:
        return sorted(self.records.values(), key=lambda r: r.name)

    def update(self, name: str, parameters: Any, *, expected_version: int | None = None) -> Any:
        raise NotImplementedError

    def delete(self, name: str) -> None:
        del self.records[name]

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "a dict"


class CountingCache(MemoryTokenCache):
    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self, key: str, token: Any) -> None:
        self.sets += 1
        super().set(key, token)


class BackendPlugin:
    def __init__(self) -> None:
        self.store = DictStore()
        self.cache = CountingCache()

    @hookimpl
    def authentication_store(self, config: Any) -> DictStore:
        return self.store

    @hookimpl
    def token_cache(self, config: Any) -> CountingCache:
        return self.cache


def test_plugin_store_and_cache_replace_the_builtins(tmp_path: Path) -> None:
    plugin = BackendPlugin()
    home = tmp_path / "home"
    with Runtime(environ={"CONNECTOR_SDK_HOME": str(home)}, extra_plugins={"backend": plugin},
                 sandbox=True) as runtime:
        assert runtime.store is plugin.store
        runtime.create_authentication("twitch", "app", runtime.emulator("twitch").parameters())
        assert list(plugin.store.records) == ["app"]
        runtime.get_token(runtime.get_authentication("app"))
    assert plugin.cache.sets == 1
    assert not home.exists(), "the built-in SQLite store must not have been opened"


def test_builtin_store_answers_when_no_plugin_does(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Runtime(environ={"CONNECTOR_SDK_HOME": str(home)}) as runtime:
        assert "SQLite" in runtime.store.describe()
    assert (home / "authentications.db").exists()


def test_a_raising_cache_hook_is_reported_by_plugin_name(tmp_path: Path) -> None:
    import pytest

    from connector_sdk import PluginError

    class Broken:
        @hookimpl
        def token_cache(self, config: Any) -> Any:
            raise RuntimeError("cache boom")

    with pytest.raises(PluginError, match="plugin 'broken' failed in hook token_cache") as exc:
        Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path)}, extra_plugins={"broken": Broken()})
    assert exc.value.plugin == "broken"


def test_a_plugin_passing_lets_the_builtin_answer(tmp_path: Path) -> None:
    class Passing:
        @hookimpl
        def token_cache(self, config: Any) -> None:
            return None

    with Runtime(environ={"CONNECTOR_SDK_HOME": str(tmp_path)},
                 extra_plugins={"passing": Passing()}) as runtime:
        assert runtime.revoke_on_close  # the built-in in-memory cache answered

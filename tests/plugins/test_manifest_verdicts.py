"""A runtime skips re-checking an installed manifest that passed before (issue 11.3), and the
cached verdict never outlives what decided it: the manifest's bytes or the checker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import Runtime, hookimpl
from connector_sdk._plugins import verdicts
from connector_sdk._plugins.verdicts import CACHE_ENV, CACHE_NAME

ACME = (Path(__file__).parents[1] / "manifest" / "fixtures" / "valid" / "acme.yaml").read_text()


class _Plugin:
    def __init__(self, manifest: Path) -> None:
        self.manifest = manifest

    @hookimpl
    def register_services(self, register: Any) -> None:
        register(self.manifest)


def _runtime(home: Path, manifest: Path, **env: str) -> Runtime:
    return Runtime(environ={"CONNECTOR_SDK_HOME": str(home), "CONNECTOR_SDK_LOAD_PLUGINS": "acme",
                            **env}, extra_plugins={"acme": _Plugin(manifest)})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    return home


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(ACME)
    return path


def _keys(home: Path) -> list[str]:
    keys: list[str] = json.loads((home / CACHE_NAME).read_text())["valid"]
    return keys


def test_a_manifest_that_passed_is_built_without_being_checked_again(
    home: Path, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _runtime(home, manifest) as first:
        assert first.service("acme").id == "acme"
    assert len(_keys(home)) == 1
    assert (home / CACHE_NAME).stat().st_mode & 0o777 == 0o600

    def no_check(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached manifest was checked again")

    monkeypatch.setattr(verdicts, "load_manifest", no_check)
    with _runtime(home, manifest) as second:
        assert second.service("acme") == first.service("acme")
        assert not second.plugins.failures


def test_an_edited_manifest_is_checked_again_and_its_problems_reported(
    home: Path, manifest: Path
) -> None:
    with _runtime(home, manifest) as first:
        assert not first.plugins.failures
    manifest.write_text(ACME.replace("manifest_version: 1", "manifest_version: 1\nbogus: 1"))
    with _runtime(home, manifest) as second:
        [failure] = second.plugins.failures
        assert "invalid manifest" in failure.message
        assert any(p.rule == "SCHEMA-UNKNOWN-KEY" for p in failure.problems)
    assert len(_keys(home)) == 1, "a manifest with problems is never remembered"


def test_a_changed_checker_misses_the_cache(
    home: Path, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _runtime(home, manifest):
        pass
    checked: list[object] = []
    real = verdicts.load_manifest

    def counting(*args: Any, **kwargs: Any) -> Any:
        checked.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(verdicts, "load_manifest", counting)
    monkeypatch.setattr(verdicts, "checker_fingerprint", lambda: b"a newer rule set")
    with _runtime(home, manifest) as runtime:
        assert not runtime.plugins.failures
    assert len(checked) == 1
    assert len(_keys(home)) == 2


@pytest.mark.parametrize("content", ["not json", '{"format": 1, "valid": "x"}', "[]",
                                     '{"format": 99, "valid": []}'])
def test_a_damaged_cache_file_counts_as_empty(home: Path, manifest: Path, content: str) -> None:
    (home / CACHE_NAME).write_text(content)
    with _runtime(home, manifest) as runtime:
        assert runtime.service("acme").id == "acme"
    assert len(_keys(home)) == 1


def test_no_cache_without_a_private_home_or_when_turned_off(
    tmp_path: Path, manifest: Path
) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    with _runtime(loose, manifest) as runtime:
        assert runtime.service("acme").id == "acme"
    assert not (loose / CACHE_NAME).exists()
    off = tmp_path / "off"
    off.mkdir(mode=0o700)
    with _runtime(off, manifest, **{CACHE_ENV: "0"}):
        pass
    assert not (off / CACHE_NAME).exists()


def test_a_warm_runtime_imports_neither_httpx_nor_the_schema_validators(home: Path) -> None:
    env = {**os.environ, "CONNECTOR_SDK_HOME": str(home)}
    script = ("import sys\nfrom connector_sdk import Runtime\n"
              "with Runtime() as runtime:\n"
              "    runtime.service('twitch')\n    runtime.store.list()\n"
              "print(sorted(m for m in ('httpx', 'httpcore', 'jsonschema', 'jsonschema_rs')"
              " if m in sys.modules))\n")
    for _ in range(2):  # the first start checks and remembers; the second is the warm one
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr

"""The public surface, the docs and the shipped schemas stay in step with the code."""

from __future__ import annotations

import filecmp
import inspect
import subprocess
import sys
from pathlib import Path

import connector_sdk
from connector_sdk._plugins import hookspecs as _hookspecs

ROOT = Path(__file__).parents[2]


def test_all_is_sorted_and_complete() -> None:
    assert connector_sdk.__all__ == sorted(connector_sdk.__all__)
    for name in connector_sdk.__all__:
        assert getattr(connector_sdk, name) is not None


def test_private_modules_are_not_exported() -> None:
    assert not [n for n in connector_sdk.__all__ if n.startswith("_") and n != "__version__"]


def hookspecs() -> list[tuple[str, str]]:
    out = []
    for name, fn in inspect.getmembers(_hookspecs, inspect.isfunction):
        if hasattr(fn, "connector_sdk_spec"):
            out.append((name, f"{name}{inspect.signature(fn)}".replace("'", "")))
    return out


def test_there_are_hooks() -> None:
    assert {name for name, _ in hookspecs()} >= {"register_services", "token_cache"}


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    text = (ROOT / "docs" / "plugin-hooks.md").read_text()
    for name, signature in hookspecs():
        assert f"### `{signature}`" in text, f"docs/plugin-hooks.md lacks {signature}"
        assert inspect.getdoc(getattr(_hookspecs, name)), f"hookspec {name} has no docstring"


def test_top_level_schemas_match_the_packaged_ones() -> None:
    top = sorted(p.name for p in (ROOT / "schemas").glob("*.json"))
    packaged = sorted(p.name for p in (ROOT / "connector_sdk" / "schemas").glob("*.json"))
    assert top == packaged
    for name in top:
        assert filecmp.cmp(ROOT / "schemas" / name, ROOT / "connector_sdk" / "schemas" / name,
                           shallow=False), f"schemas/{name} differs from the packaged copy"


def test_importing_the_package_does_not_import_httpx() -> None:
    code = "import sys, connector_sdk; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "False"

"""The public surface, the docs and the shipped schemas stay in step with the code."""

from __future__ import annotations

import collections.abc
import dataclasses
import filecmp
import importlib
import inspect
import pickle
import pkgutil
import subprocess
import sys
import traceback
import typing
from pathlib import Path
from typing import Any

import httpx

import connector_sdk
from connector_sdk import _errors
from connector_sdk._plugins import hookspecs as _hookspecs

ROOT = Path(__file__).parents[2]


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert connector_sdk.__all__ == sorted(connector_sdk.__all__)
    for name in connector_sdk.__all__:
        assert getattr(connector_sdk, name) is not None, name
    assert set(connector_sdk.__all__) <= set(dir(connector_sdk)) | set(connector_sdk._LAZY)


def _annotation_namespace() -> dict[str, Any]:
    """Every name defined in a connector_sdk module, for annotations that modules import
    only under TYPE_CHECKING (``from __future__ import annotations`` leaves them strings)."""
    names: dict[str, Any] = {**vars(typing), **vars(collections.abc), "httpx": httpx}
    for info in pkgutil.walk_packages(connector_sdk.__path__, "connector_sdk."):
        if info.name.endswith(".__main__"):  # running it is the CLI
            continue
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # an optional extra that is not installed
            if (exc.name or "").startswith("connector_sdk"):
                raise
            continue
        for key, value in vars(module).items():
            if not key.startswith("__"):
                names.setdefault(key, value)
    return names


def _sdk_classes(annotation: Any, found: set[type]) -> set[type]:
    """The connector_sdk classes an annotation mentions, however deeply nested."""
    if isinstance(annotation, type) and annotation.__module__.startswith("connector_sdk"):
        found.add(annotation)
    for argument in typing.get_args(annotation):
        for item in argument if isinstance(argument, list) else [argument]:
            _sdk_classes(item, found)
    return found


def _public_callables(obj: Any) -> list[tuple[str, Any]]:
    """A function itself; for a class, its public methods, properties and (when it is not
    a dataclass, whose parameters are its fields) its constructor."""
    if not inspect.isclass(obj):
        return [("", obj)] if inspect.isfunction(obj) else []
    out = []
    for key in dir(obj):
        if key.startswith("_") and not (key == "__init__" and not dataclasses.is_dataclass(obj)):
            continue
        static = inspect.getattr_static(obj, key)
        if isinstance(static, property) and static.fget is not None:
            out.append((key, static.fget))
        elif isinstance(static, staticmethod | classmethod):
            out.append((key, static.__func__))
        elif inspect.isfunction(static) and static.__module__.startswith("connector_sdk"):
            out.append((key, static))
    return out


def test_every_sdk_type_in_a_public_signature_is_exported() -> None:
    """What the public API takes and returns can be named by importing connector_sdk."""
    names = _annotation_namespace()
    exported = {id(getattr(connector_sdk, name)) for name in connector_sdk.__all__}
    missing: dict[str, list[str]] = {}
    for name in connector_sdk.__all__:
        for member, function in _public_callables(getattr(connector_sdk, name)):
            hints = typing.get_type_hints(function, globalns={**names, **function.__globals__})
            for parameter, annotation in hints.items():
                if parameter.startswith("_"):
                    continue
                for cls in _sdk_classes(annotation, set()):
                    if id(cls) not in exported:
                        where = ".".join(filter(None, [name, member])) + f" ({parameter})"
                        missing.setdefault(cls.__qualname__, []).append(where)
    assert not missing, f"not exported from connector_sdk: {missing}"


def test_the_completeness_check_finds_an_unexported_type() -> None:
    """The check above can fail: a function taking a private class is reported."""

    class Hidden:
        pass

    def uses(value: Hidden) -> None: ...

    Hidden.__module__ = "connector_sdk._fake"
    assert _sdk_classes(typing.get_type_hints(uses, localns={"Hidden": Hidden})["value"],
                        set()) == {Hidden}
    assert _sdk_classes(collections.abc.Callable[[Hidden], None], set()) == {Hidden}


def test_errors_are_shown_under_their_public_module() -> None:
    """Tracebacks and logs name ``connector_sdk.APIError``, the path callers catch, and a
    pickled error class resolves there; other classes keep their defining module, so
    ``typing.get_type_hints`` and ``inspect.getsource`` still work on them."""
    for name in _errors.__all__:
        cls = getattr(connector_sdk, name)
        assert cls.__module__ == "connector_sdk", name
        assert pickle.loads(pickle.dumps(cls)) is cls
    line = traceback.format_exception_only(connector_sdk.WorkflowError("boom"))[-1]
    assert line.startswith("connector_sdk.WorkflowError: boom")
    assert connector_sdk.Service.__module__ == "connector_sdk._manifest.model"
    assert typing.get_type_hints(connector_sdk.Service)["parameters"]


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
